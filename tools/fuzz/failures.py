"""Prints the failure count per check and the case count from a schemathesis 4.x run log."""
import sys

lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
block = None
for line in lines:
    if line in ("Failures:", "Errors:", "Test cases:", "Warnings:"):
        block = line
        continue
    if not line.strip():
        block = None
    elif block:
        print(f"  {block[:-1].lower()}: {line.strip()}")
