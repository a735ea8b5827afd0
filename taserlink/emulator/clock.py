"""The simulated device's battery-backed real-time clock.

A real RTC counts from whatever it was last set to, at a rate off by its crystal's error
(vendors quote up to ~90 ppm unsynchronised), and restarts from 2000-01-01T00:00:00 (device
time 0) when it loses power.  The model maps the simulation's true UTC onto device time:

    device_ms = set_device_ms + (utc_ms - set_utc_ms) * (1 + drift_ppm / 1e6)

rounded down to the millisecond.  What it does *not* model: temperature-dependent drift,
leap seconds and the device's own time-zone setting (device time has no zone).
"""

from __future__ import annotations

from dataclasses import dataclass

from taserlink.format import DEVICE_EPOCH_UNIX_MS

__all__ = ["DeviceClock"]


@dataclass
class DeviceClock:
    """Device time as a function of true UTC (both in milliseconds).

    Attributes:
        set_utc_ms: true UTC (Unix ms) when the clock was last set or reset.
        set_device_ms: device time (ms since 2000-01-01) it was set to then.
        drift_ppm: rate error, parts per million (positive runs fast).
    """

    set_utc_ms: int
    set_device_ms: int
    drift_ppm: float = 0.0

    @classmethod
    def true_utc(cls, utc_ms: int, *, offset_ms: int = 0, drift_ppm: float = 0.0) -> DeviceClock:
        """A clock showing UTC + ``offset_ms`` at ``utc_ms``, drifting at ``drift_ppm``."""
        return cls(utc_ms, utc_ms - DEVICE_EPOCH_UNIX_MS + offset_ms, drift_ppm)

    def device_ms(self, utc_ms: int) -> int:
        """What the device clock reads at true UTC ``utc_ms``."""
        elapsed = utc_ms - self.set_utc_ms
        return self.set_device_ms + elapsed + int(elapsed * self.drift_ppm // 1_000_000)

    def set(self, utc_ms: int, device_ms: int) -> int:
        """Set the clock to ``device_ms`` at true ``utc_ms``; returns what it read before."""
        before = self.device_ms(utc_ms)
        self.set_utc_ms, self.set_device_ms = utc_ms, device_ms
        return before

    def lose_power(self, utc_ms: int) -> None:
        """The backup cell failed: the clock restarts at 2000-01-01 (device time 0)."""
        self.set_utc_ms, self.set_device_ms = utc_ms, 0
