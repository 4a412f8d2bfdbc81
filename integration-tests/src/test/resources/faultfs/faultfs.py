#!/usr/bin/python3
"""faultfs: a pass-through FUSE file system whose fsync fails on demand.

Usage: faultfs.py SOURCE MOUNTPOINT CONTROL

Every file under MOUNTPOINT is the file of the same name under SOURCE. While the file
CONTROL/fail-fsync exists, fsync and fdatasync fail with the errno it names (EIO when empty):
the writeback failure a target must never hide behind BUSY, nor forget after a recovery.
Runs in the foreground; kill it (SIGKILL) for a crash, SIGSTOP it for a stall.
"""
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations


class FaultFs(Operations):
    def __init__(self, source, control):
        self.source = os.path.realpath(source)
        self.control = control

    def _path(self, path):
        return os.path.join(self.source, path.lstrip('/'))

    def _fsync_errno(self):
        marker = os.path.join(self.control, 'fail-fsync')
        try:
            with open(marker) as f:
                name = f.read().strip() or 'EIO'
        except FileNotFoundError:
            return 0
        return getattr(errno, name, errno.EIO)

    # metadata
    def access(self, path, mode):
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        return {key: getattr(st, key) for key in ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime',
                                                  'st_nlink', 'st_size', 'st_uid')}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        return {key: getattr(st, key) for key in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail',
                                                  'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def chmod(self, path, mode):
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._path(path), uid, gid)

    def mkdir(self, path, mode):
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        os.rmdir(self._path(path))

    def unlink(self, path):
        os.unlink(self._path(path))

    def rename(self, old, new):
        os.rename(self._path(old), self._path(new))

    def utimens(self, path, times=None):
        os.utime(self._path(path), times)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._path(path), length)

    # data
    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        failure = self._fsync_errno()
        if failure:
            raise FuseOSError(failure)
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    FUSE(FaultFs(sys.argv[1], sys.argv[3]), sys.argv[2], foreground=True, nothreads=False, direct_io=True)
