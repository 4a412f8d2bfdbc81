#!/usr/bin/env python3
"""Regenerates the *.i2t.bin.gz / *.i2t.txt.gz test vectors of this directory.

  python3 make-i2t.py /work/shared/data/pdu-captures CAPTURE...

For each CAPTURE (e.g. kernel-open-iscsi) it runs pdus.py (listing + --dump),
concatenates the raw bytes of every initiator->target PDU in capture order into
CAPTURE.i2t.bin.gz, and writes the matching index CAPTURE.i2t.txt.gz, one line
per PDU, fields taken from the pdus.py listing (an independent decoder):

  N cC OPCODE-NAME ITT DLEN HD DD BYTES

HD/DD are 1 when the PDU carries a header/data digest, BYTES is the size of
the raw PDU (header, digests, padded data).
"""
import glob, gzip, os, re, subprocess, sys, tempfile

src = sys.argv[1]
for cap in sys.argv[2:]:
    pcap = os.path.join(src, cap + ".pcap")
    with tempfile.TemporaryDirectory() as d:
        listing = subprocess.run([sys.executable, os.path.join(src, "pdus.py"), pcap, "--dump", d],
                                 check=True, capture_output=True, text=True).stdout
        files = {int(os.path.basename(f)[:4]): f for f in glob.glob(os.path.join(d, "*-I2T-*.bin"))}
        index, stream = [], bytearray()
        for line in listing.splitlines():
            f = line.split()
            if line.startswith("#") or line.startswith(" ") or len(f) < 5 or f[3] != "I->T":
                continue
            n = int(f[0])
            raw = open(files[n], "rb").read()
            dlen = re.search(r" dlen=(\d+)", line).group(1)
            itt = re.search(r"\| .*?itt=(0x[0-9a-f]+)", line).group(1)
            hd = 1 if " hd=" in line else 0
            dd = 1 if " dd=" in line else 0
            index.append(f"{n} {f[2]} {f[4]} {itt} {dlen} {hd} {dd} {len(raw)}")
            stream += raw
        assert len(index) == len(files), cap
    with gzip.GzipFile(cap + ".i2t.bin.gz", "wb", 9, mtime=0) as g:
        g.write(stream)
    with gzip.GzipFile(cap + ".i2t.txt.gz", "wb", 9, mtime=0) as g:
        g.write(("# " + cap + ".pcap: initiator->target PDUs (N cC OPCODE ITT DLEN HD DD BYTES)\n"
                 + "\n".join(index) + "\n").encode())
