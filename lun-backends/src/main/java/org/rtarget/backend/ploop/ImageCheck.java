package org.rtarget.backend.ploop;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rtarget.backend.Errno;
import org.rtarget.backend.posix.PosixException;
import org.rtarget.backend.posix.PosixFile;

/**
 * Checks one image offline and, if asked, repairs what is safe to repair:
 *
 * <ul>
 *   <li>BAT entries that point past the end of the file, into the header and BAT, after the last
 *       virtual cluster, off a cluster boundary (v1), or to a cluster an earlier entry uses: set to
 *       0 (unallocated; those clusters then read from the level below, or as zeros). For a
 *       duplicate the first entry keeps the cluster and the later ones are reported as lost;
 *   <li>the in-use mark left by a crash: cleared, after the BAT fixes are durable (the header is
 *       not declared clean while its content is not).
 * </ul>
 *
 * Nothing is truncated: clusters leaked at the end of the file by an interrupted allocation are
 * only reported. A bad header is reported and nothing else is checked.
 */
final class ImageCheck {

    private ImageCheck() {
    }

    static CheckReport check(Path path, boolean repair) throws IOException {
        PosixFile file = open(path, repair);
        try {
            return check(path, file, repair);
        } catch (PosixException e) {
            throw new IOException("checking ploop image " + path + " failed: " + e.getMessage(), e);
        } finally {
            DeltaFile.closeQuietly(file);
        }
    }

    private static PosixFile open(Path path, boolean repair) throws IOException {
        try {
            return PosixFile.open(path, (repair ? PosixFile.O_RDWR : PosixFile.O_RDONLY) | PosixFile.O_CLOEXEC, 0);
        } catch (PosixException e) {
            if (e.errno() == Errno.ENOENT) {
                throw new PloopFormatException(path, "does not exist");
            }
            throw new IOException("cannot open ploop image " + path + ": " + Errno.name(e.errno()), e);
        }
    }

    private static CheckReport check(Path path, PosixFile file, boolean repair) throws IOException {
        List<CheckReport.Finding> findings = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        PloopHeader header;
        try {
            header = DeltaFile.readHeader(file);
        } catch (PloopFormatException e) {
            findings.add(new CheckReport.Finding(CheckReport.Problem.BAD_HEADER, e.getMessage(), false));
            return new CheckReport(path, findings, notes);
        }
        long fileSize = file.size();
        int[] slots = Bat.readSlots(file, header);

        List<BatScan.Finding> bad = BatScan.scan(header, slots, fileSize);
        for (BatScan.Finding f : bad) {
            if (repair) {
                Bat.writeSlot(file, f.slot(), 0);
                slots[(int) f.slot()] = 0;
            }
            String consequence = f.problem() == BatScan.Problem.BEYOND_VIRTUAL_SIZE ? "" : "; its data is lost";
            findings.add(new CheckReport.Finding(problemOf(f.problem()),
                    f.message() + consequence + (repair ? "; set to 0 (unallocated)" : ""), repair));
        }
        if (repair && !bad.isEmpty()) {
            file.dataSync();
        }

        if ((header.flags() & PloopHeader.FLAG_VERSION_CONVERT) != 0) {
            findings.add(new CheckReport.Finding(CheckReport.Problem.VERSION_CONVERSION,
                    "the header says a conversion between format versions was interrupted (CIF_FmtVersionConvert);"
                            + " not repaired here", false));
        }
        if (header.inUse()) {
            if (repair) {
                DeltaFile.writeHeader(file, header.closed());
            }
            findings.add(new CheckReport.Finding(CheckReport.Problem.IN_USE,
                    "the in-use mark is set: the image was not closed cleanly, or is open right now"
                            + (repair ? "; cleared" : ""), repair));
        }

        noteTail(header, slots, fileSize, notes);
        return new CheckReport(path, findings, notes);
    }

    /** Clusters after the last one the BAT uses, and a partial last cluster: harmless, not truncated. */
    private static void noteTail(PloopHeader header, int[] slots, long fileSize, List<String> notes) {
        int clusterBytes = header.clusterBytes();
        long end = header.headerClusters();
        for (int vc = 0; vc < header.batEntries(); vc++) {
            if (slots[vc] != 0) {
                end = Math.max(end, header.version().clusterOf(slots[vc], header.clusterSectors()) + 1);
            }
        }
        long wholeClusters = fileSize / clusterBytes;
        if (wholeClusters > end) {
            notes.add((wholeClusters - end) + " cluster(s) at the end of the file are not in the BAT"
                    + " (left by an interrupted allocation); not truncated");
        }
        if (fileSize % clusterBytes != 0) {
            notes.add("the file size " + fileSize + " is not a multiple of the cluster size " + clusterBytes
                    + " (an interrupted extension); new clusters go after it");
        }
    }

    private static CheckReport.Problem problemOf(BatScan.Problem p) {
        return switch (p) {
            case MISALIGNED -> CheckReport.Problem.ENTRY_MISALIGNED;
            case BEYOND_VIRTUAL_SIZE -> CheckReport.Problem.ENTRY_BEYOND_SIZE;
            case IN_HEADER -> CheckReport.Problem.ENTRY_IN_HEADER;
            case PAST_EOF -> CheckReport.Problem.ENTRY_PAST_EOF;
            case DUPLICATE -> CheckReport.Problem.ENTRY_DUPLICATE;
        };
    }
}
