"""AssignOpportunity calls/s against the emulator in a separate process (quotas off).

Run: .venv/bin/python benchmarks/emulator_throughput.py [--seconds 5] [--threads 8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

import boto3
from botocore.config import Config

PREFIX = "Partner Central emulator listening on "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time (5)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (8)")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "bulk_assign.emulator", "--port", "0", "--no-quotas",
         "--generate", "2000", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        if not line.startswith(PREFIX):
            print(f"emulator did not start: {line!r}", file=sys.stderr)
            return 1
        url = line[len(PREFIX) :]
        client = boto3.client(
            "partnercentral-selling",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(max_pool_connections=args.threads, retries={"total_max_attempts": 1}),
        )
        counts = [0] * args.threads
        errors = [0] * args.threads
        deadline = time.perf_counter() + args.seconds

        def work(worker: int) -> None:
            i = 0
            while time.perf_counter() < deadline:
                k = (worker * 131 + i) % 50
                try:
                    client.assign_opportunity(
                        Catalog="Sandbox",
                        Identifier=f"O{1_000_000 + (worker * 250 + i) % 2000}",
                        Assignee={
                            "Email": f"user{k}@example.com",
                            "FirstName": "User",
                            "LastName": f"Number{k}",
                            "BusinessTitle": "PartnerAccountManager",
                        },
                    )
                    counts[worker] += 1
                except Exception:
                    errors[worker] += 1
                i += 1

        threads = [threading.Thread(target=work, args=(w,)) for w in range(args.threads)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        total = sum(counts)
        print(
            f"{total / elapsed:.0f} AssignOpportunity calls/s "
            f"({total} ok, {sum(errors)} errors, {args.threads} threads, {elapsed:.1f} s)"
        )
        return 0 if sum(errors) == 0 else 1
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
