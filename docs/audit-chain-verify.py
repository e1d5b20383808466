#!/usr/bin/env python3
"""Verify a certctl-serverless audit trail without certctl.

Reads the audit table as `aws dynamodb scan --table-name <AuditTableName>`
prints it (DynamoDB's JSON, every page merged), recomputes every row's hash
and link (docs/audit-chain.md), checks that the rows still hash to what
each digest recorded and that the digests chain, and writes each digest's
signed content and signature to OUTDIR for `openssl dgst -verify`.

    aws dynamodb scan --table-name "$AUDIT" > audit.json
    python3 docs/audit-chain-verify.py audit.json digests/
    for c in digests/*.txt; do
      openssl dgst -sha256 -verify digest.pem -signature "${c%.txt}.sig" "$c" || echo "BAD $c"
    done

Standard library only. Exit status 1 when anything is wrong. It holds the
whole table in memory: for a very large trail use `certctl audit verify`,
which reads it a page per shard at a time.
"""
import base64
import hashlib
import json
import os
import re
import sys

SHARDS = 16
ZERO = "0" * 64


def strings(item):
    """The item's attributes; every one must be a string."""
    out = {}
    for name, value in item.items():
        if set(value) != {"S"}:
            raise ValueError("attribute %s is not a string" % name)
        out[name] = value["S"]
    return out


def field(name, value):
    data = value.encode("utf-8")
    return name.encode("ascii") + b"=" + str(len(data)).encode("ascii") + b":" + data + b"\n"


def row_hash(attrs):
    """SHA-256 of certctl.audit.row.v1: every attribute but row_hash, sorted by name."""
    body = b"certctl.audit.row.v1\n"
    for name in sorted(n for n in attrs if n != "row_hash"):
        if not re.fullmatch(r"[a-z0-9_.]+", name):
            raise ValueError("attribute name %r" % name)
        body += field(name, attrs[name])
    return hashlib.sha256(body).hexdigest()


def parse_digest(content):
    """The fields of a certctl.audit.digest.v1 text, in order."""
    data = content.encode("utf-8")
    prefix = b"certctl.audit.digest.v1\n"
    if not data.startswith(prefix):
        raise ValueError("not a certctl.audit.digest.v1 digest")
    rest, fields = data[len(prefix):], []
    while rest:
        name, _, rest = rest.partition(b"=")
        size, _, rest = rest.partition(b":")
        n = int(size)
        if rest[n:n + 1] != b"\n":
            raise ValueError("bad length for %s" % name.decode())
        fields.append((name.decode(), rest[:n].decode("utf-8")))
        rest = rest[n + 1:]
    return fields


def main(scan_file, outdir):
    items = json.load(open(scan_file))["Items"]
    rows, heads, digests, problems = {}, {}, [], []
    for item in items:
        attrs = strings(item)
        pk, sk = attrs["pk"], attrs["sk"]
        if pk == "CHAIN" and sk.startswith("HEAD#"):
            heads[attrs["shard"]] = (int(attrs["seq"]), attrs["hash"])
        elif pk == "DIGEST":
            digests.append(attrs)
        elif pk.startswith("AUDIT#") and attrs.get("chain") in ["%02d" % i for i in range(SHARDS)] and "chain_seq" in attrs:
            rows.setdefault(attrs["chain"], {}).setdefault(int(attrs["chain_seq"]), []).append(attrs)
        else:
            problems.append("inserted: %s %s is outside every chain" % (pk, sk))

    # Every shard: positions 1..n, one row each, each hashing to its
    # row_hash and naming the previous row's.
    hash_at = {}
    for shard, by_seq in sorted(rows.items()):
        prev = ZERO
        for seq in range(1, max(by_seq) + 1):
            found = by_seq.get(seq, [])
            if len(found) != 1:
                problems.append("%s: shard %s seq %d: %d rows" % ("missing" if not found else "inserted", shard, seq, len(found)))
                break
            r = found[0]
            if "resource_id" in r and "%02d" % (hashlib.sha256(r["resource_id"].encode("utf-8")).digest()[0] % SHARDS) != shard:
                problems.append("edited: shard %s seq %d holds a row whose resource belongs in another shard" % (shard, seq))
                break
            if row_hash(r) != r["row_hash"]:
                problems.append("edited: shard %s seq %d (%s %s)" % (shard, seq, r["pk"], r["sk"]))
                break
            if r["prev_hash"] != prev:
                problems.append("broken: shard %s seq %d does not name row %d" % (shard, seq, seq - 1))
                break
            prev = hash_at[(shard, seq)] = r["row_hash"]
    for shard, (seq, h) in sorted(heads.items()):
        if seq and hash_at.get((shard, seq)) != h:
            problems.append("truncated or broken: shard %s's head says seq %d hashes to %s" % (shard, seq, h))

    # Digests: consecutive, chained by the hash of the content, and every
    # shard's rows up to the seq recorded hash to the hash recorded.
    os.makedirs(outdir, exist_ok=True)
    prev_hash, expect = ZERO, 1
    for d in sorted(digests, key=lambda d: d["sk"]):
        fields = dict(parse_digest(d["content"]))
        seq = int(fields["digest_seq"])
        if seq != expect:
            problems.append("missing-digest: digest %d follows %d" % (seq, expect - 1))
        if fields["prev_digest_hash"] != prev_hash:
            problems.append("bad-digest: digest %d does not name its predecessor" % seq)
        for i in range(SHARDS):
            shard = "%02d" % i
            n, h, _first, _last = fields["shard." + shard].split(" ")
            if int(n) and hash_at.get((shard, int(n))) != h:
                problems.append("edited or truncated: digest %d records shard %s seq %s as %s" % (seq, shard, n, h))
        base = os.path.join(outdir, "digest-%012d" % seq)
        open(base + ".txt", "wb").write(d["content"].encode("utf-8"))
        open(base + ".sig", "wb").write(base64.b64decode(d["signature"]))
        prev_hash, expect = hashlib.sha256(d["content"].encode("utf-8")).hexdigest(), seq + 1

    for p in problems:
        print(p)
    total = sum(len(v) for r in rows.values() for v in r.values())
    print("%d rows, %d digests (signatures: run openssl on %s), %s" % (total, len(digests), outdir, "FAILED" if problems else "OK"))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: audit-chain-verify.py SCAN.json OUTDIR")
    sys.exit(main(sys.argv[1], sys.argv[2]))
