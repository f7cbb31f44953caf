"""Resident memory of this process, read from /proc (Linux)."""

from __future__ import annotations


def rss_mb() -> tuple[float, float]:
    """Return ``(current, peak)`` resident set size in MB (VmRSS, VmHWM)."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def reset_peak() -> bool:
    """Reset the peak (VmHWM) to the current resident size; return whether the kernel allowed it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
