"""The examiner's report for court (design §8, ``taserlink report``): the chain from each
recovered cartridge to its deployment, device, corrected time and officers, with every
step's evidence, in one self-contained HTML page (and a PDF of it, :mod:`taserlink.report.pdf`).

:func:`court_report` gathers what the report shows — the linkage
(:func:`taserlink.forensics.link.link`), each image's verification
(:func:`taserlink.integrity.batch.verify_files`) and acquisition, and the device
timelines around the incident — as a :class:`CourtReport`; :func:`report_html` lays it
out.  Nothing in it is worked out here: each figure is the library's own, as ``taserlink
link`` and ``taserlink verify`` print them, so a second examiner who runs those commands
on the same files sees the same values.

The page, section by section (``docs/report.md`` says what each proves and what it does
not):

1. **Summary**: the window, the images and devices, the cartridges linked, the findings.
2. **The chain of each recovered cartridge**: the exhibits and their reads, the match
   (status, posterior score, runner-up, the read errors that explain it), each ``DEPLOY``
   (device, sequence, bay, the images holding it and whether they verified), its device
   time and corrected UTC ± bound, who held the device, who had the cartridge signed out,
   the findings about it, and its history in the logs.
3. **Timelines**: for each device with an event in the time shown (the window, five
   minutes either side), its events on corrected UTC with their ± bounds, the window
   shaded, deployments and energy applications marked, and the events as a table.
4. **Integrity**: each image's SHA-256, size, acquisition (host times, operator,
   workstation, clock source, tool), coverage and every verification finding.
5. **Clock models** with their anchors.
6. **Consistency findings**: every finding of the linkage, by severity.
7. **Method and its limits**.
8. **Provenance**: every input file by SHA-256, the settings and taserlink's version.

The page records no time of writing and its plots' ids are fixed: the same inputs give the
same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from taserlink.errors import InputFileError, LinkError
from taserlink.findings import Severity
from taserlink.forensics.issues import IssueList
from taserlink.forensics.link import Deployment, ImageSummary, Linkage, LinkRow, Window, link
from taserlink.forensics.matchfiles import format_score, read_matches
from taserlink.forensics.provenance import check_matches, link_provenance, matches_findings
from taserlink.format import EventCode, Image, read_image
from taserlink.integrity import TrustStore
from taserlink.integrity.batch import Outcome, verify_files
from taserlink.provenance import Input, Provenance
from taserlink.report import plots
from taserlink.report.html import escape, page, table
from taserlink.timeline import ClockSettings, DeviceTimeline
from taserlink.timeline.decode import payload_fields
from taserlink.timeline.times import device_time_text, utc_text

__all__ = [
    "MARGIN_MS",
    "CourtReport",
    "ImageFacts",
    "court_report",
    "report_html",
    "summary_lines",
    "timeline_marks",
]

MARGIN_MS: Final = 5 * 60_000
"""How far either side of the incident window (or of the deployments, without one) the
timelines reach (ms)."""
_LANE: Final = {
    EventCode.UNHOLSTER: "holster",
    EventCode.HOLSTER: "holster",
    EventCode.ARM: "safety",
    EventCode.SAFE: "safety",
    EventCode.LASER_ON: "laser",
    EventCode.WARNING_ARC: "arc",
    EventCode.TRIGGER: "energy",
    EventCode.DRIVE_STUN: "energy",
    EventCode.CONNECTION: "energy",
    EventCode.DEPLOY: "cartridge",
    EventCode.CARTRIDGE_INSERT: "cartridge",
    EventCode.CARTRIDGE_REMOVE: "cartridge",
    EventCode.CLOCK_SET: "clock",
}
"""The events a timeline shows, by lane (:data:`taserlink.report.plots.LANES`)."""


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """One image as the report names it: the file and the acquisition block.

    Attributes:
        name: its path as given.
        size: its size (bytes).
        sha256: the SHA-256 of its bytes (hex).
        device: the device serial in its identity.
        host_start_ms, host_end_ms: the download's start and end on the host clock (Unix
            ms UTC).
        operator, workstation, clock_source, tool: as the acquisition block records them.
    """

    name: str
    size: int
    sha256: str
    device: str
    host_start_ms: int
    host_end_ms: int
    operator: str
    workstation: str
    clock_source: str
    tool: str


@dataclass(frozen=True)
class CourtReport:
    """Everything the report shows (module docstring).

    Attributes:
        linkage: the chain and its findings.
        images: each image's file and acquisition, in linkage order.
        verification: each image's verification (empty when no roots were given).
        timelines: the devices with an event in :attr:`span`, by serial.
        span: the time the timelines show (UTC ms), or ``None`` when nothing places it.
        settings: the clock models' settings.
        roots: the trusted roots' names (``()``: none given).
        provenance: every input by SHA-256, the settings and the version
            (:func:`taserlink.forensics.provenance.link_provenance`, as ``taserlink link
            --json`` gives it).
    """

    linkage: Linkage
    images: tuple[ImageFacts, ...]
    verification: tuple[Outcome, ...]
    timelines: tuple[DeviceTimeline, ...]
    span: tuple[int, int] | None
    settings: ClockSettings
    roots: tuple[str, ...]
    provenance: Provenance

    @property
    def ok(self) -> bool:
        """No ``error`` finding in the chain (the command's exit 0)."""
        return self.linkage.ok


def _facts(summary: ImageSummary, image: Image) -> ImageFacts:
    """The image as the report names it: linkage's size and SHA-256 (hashed when it was
    surveyed), the acquisition as the image records it."""
    acquisition = image.acquisition
    return ImageFacts(
        name=summary.name,
        size=summary.size,
        sha256=summary.sha256,
        device=summary.device,
        host_start_ms=acquisition.host_utc_start_ms,
        host_end_ms=acquisition.host_utc_end_ms,
        operator=acquisition.operator,
        workstation=acquisition.workstation,
        clock_source=acquisition.clock_source,
        tool=acquisition.tool_version,
    )


def _span(linkage: Linkage) -> tuple[int, int] | None:
    if linkage.window is not None:
        return linkage.window.start_ms - MARGIN_MS, linkage.window.end_ms + MARGIN_MS
    times = [
        d.time.utc_ms for row in linkage.rows for d in row.deployments if d.time.utc_ms is not None
    ]
    if not times:
        return None
    return min(times) - MARGIN_MS, max(times) + MARGIN_MS


def court_report(
    images: Sequence[str | os.PathLike[str]],
    issues: IssueList,
    matches_path: str | os.PathLike[str],
    *,
    custody: Input | None = None,
    register: Mapping[str, Any] | None = None,
    window: Window | None = None,
    trust: TrustStore | None = None,
    roots: Sequence[str] = (),
    clock: ClockSettings | None = None,
    workers: int = 1,
) -> CourtReport:
    """Gather the report of the images at ``images`` (module docstring).

    The match file is checked against its provenance file, as ``taserlink link`` checks it
    (a changed or truncated file is a finding).

    Args:
        images: the device downloads (``.tdi`` paths).
        issues: custody (:func:`~taserlink.forensics.issues.read_issues` or the register's).
        matches_path: ``taserlink match``'s ``OUT.csv``.
        custody: the issue list file, hashed (:func:`taserlink.provenance.hash_file`), for
            the provenance; or ``register``: the register's state
            (:func:`taserlink.forensics.provenance.register_settings`).
        window: the incident window (UTC).
        trust: the roots to verify every image against; ``None``: none verified (a
            finding says so).
        roots: the roots' names, for the method statement.
        clock: the clock models' settings.
        workers: processes for verification and linkage.

    Raises:
        LinkError, InputFileError, FormatError, ImageIOError: an input that cannot be read
            (named), as ``taserlink link`` raises them; a match file that cannot be read
            and differs from its provenance says both.
    """
    settings = clock or ClockSettings()
    names = [os.fspath(p) for p in images]
    checked = check_matches(matches_path)
    try:
        matches = tuple(read_matches(matches_path))
    except InputFileError as error:
        changed = [f.message for f in checked.findings if f.severity is Severity.ERROR]
        if not changed:
            raise
        raise LinkError(f"{error}; {changed[0]}") from None
    linkage = link(
        {name: Path(name) for name in names},
        issues,
        matches,
        window=window,
        trust=trust,
        clock=settings,
        workers=workers,
        findings=matches_findings(checked),
    )
    verification = tuple(verify_files(names, trust, workers=workers)) if trust else ()
    verified = {image.name: image.verified for image in linkage.images}
    span = _span(linkage)
    by_device: dict[str, list[ImageSummary]] = {}
    for summary in linkage.images:
        by_device.setdefault(summary.device, []).append(summary)
    facts: dict[str, ImageFacts] = {}
    timelines = []
    for serial in sorted(by_device):  # one device's images in memory at a time
        parsed = [(s.name, read_image(Path(s.name).read_bytes())) for s in by_device[serial]]
        for summary, (_, image) in zip(by_device[serial], parsed, strict=True):
            facts[summary.name] = _facts(summary, image)
        if span is None:
            continue
        timeline = DeviceTimeline.from_images(parsed, settings=settings, verified=verified)
        if timeline_marks(timeline, span):
            timelines.append(timeline)
    provenance = link_provenance(
        linkage, checked, issues=custody, register=register, trust=trust, clock=settings
    )
    return CourtReport(
        linkage=linkage,
        images=tuple(facts[summary.name] for summary in linkage.images),
        verification=verification,
        timelines=tuple(timelines),
        span=span,
        settings=settings,
        roots=tuple(roots),
        provenance=provenance,
    )


def timeline_marks(timeline: DeviceTimeline, span: tuple[int, int]) -> tuple[plots.Mark, ...]:
    """The events of ``timeline`` whose corrected UTC falls in ``span`` (UTC ms), as plot
    marks: lane by event, energy applications with their length, deployments labelled with
    bay and cartridge."""
    rows = timeline.rows_of(_LANE)
    if len(rows) == 0:
        return ()
    utc, bound, _, _ = timeline.corrected(rows)
    inside = ~np.isnan(utc) & (utc >= span[0]) & (utc <= span[1])
    rows, utc, bound = rows[inside], utc[inside], bound[inside]
    fields = payload_fields(timeline.records[rows])
    marks = []
    for code, at, plus, payload in zip(
        timeline.code[rows].tolist(), utc.tolist(), bound.tolist(), fields, strict=True
    ):
        event = EventCode(code)
        kind, label, duration = "event", "", 0
        if event is EventCode.DEPLOY:
            kind, label = "deploy", f"DEPLOY bay {payload.get('bay')} {payload.get('serial')}"
        elif event in (EventCode.TRIGGER, EventCode.DRIVE_STUN):
            kind, duration = "energy", int(payload.get("duration_ms", 0))
            label = f"{event.name} {duration / 1000:g} s"
        elif event in (EventCode.UNHOLSTER, EventCode.HOLSTER, EventCode.CLOCK_SET):
            label = event.name
        marks.append(plots.Mark(_LANE[event], int(at), int(plus), label, kind, duration))
    return tuple(marks)


# -- the page -------------------------------------------------------------------------------


def _verified(state: bool | None) -> str:
    return {True: "verified", False: "NOT VERIFIED", None: "not verified (no roots given)"}[state]


def _time(deployment: Deployment) -> str:
    time = deployment.time
    if time.utc_ms is None:
        return f"UTC unknown ({time.note})"
    return f"{utc_text(time.utc_ms)} ± {time.bound_ms} ms ({time.note})"


def _match_rows(row: LinkRow) -> list[tuple[str, ...]]:
    return [
        (
            m.exhibit,
            str(m.reads),
            m.status.value,
            format_score(m.score),
            m.runner_up or "—",
            format_score(m.runner_up_score) if m.runner_up_score is not None else "—",
            m.explanation or "—",
        )
        for m in row.matches
    ]


def _chain(report: CourtReport, row: LinkRow) -> str:
    status = "match" if row.confirmed else "ambiguous — an UNCONFIRMED CANDIDATE, not a match"
    parts = [
        f'<h3 id="cartridge-{escape(row.serial)}">Cartridge {escape(row.serial)} '
        f"({escape(status)})</h3>",
        "<p><strong>1. The exhibits and the match.</strong> The tags recovered in each "
        "exhibit were read and matched against the serials issued (taserlink match: the "
        "posterior probability of the serial given the reads, the serial list and the stated "
        "read-error model).</p>",
        table(
            ("exhibit", "reads", "status", "score", "runner-up", "its score", "explanation"),
            _match_rows(row),
        ),
    ]
    if not row.deployments:
        parts.append(
            "<p><strong>2. The deployment.</strong> No <code>DEPLOY</code> record names this "
            "cartridge in any image.</p>"
        )
    for deployment in row.deployments:
        parts.append(
            "<p><strong>2. The deployment.</strong> The device logged the cartridge fired: "
            "its <code>DEPLOY</code> record names the serial the device read from the smart "
            "cartridge.</p>"
        )
        parts.append(
            table(
                ("step", "evidence"),
                [
                    (
                        "DEPLOY record",
                        f"device {deployment.device}, seq {deployment.seq}, bay {deployment.bay}",
                    ),
                    (
                        "held in",
                        f"{', '.join(deployment.images)} ({_verified(deployment.verified)})",
                    ),
                    ("device time", device_time_text(deployment.device_ms)),
                    ("corrected UTC", _time(deployment)),
                    ("device held by", str(deployment.device_custody)),
                    ("cartridge signed out to", str(deployment.cartridge_custody)),
                ],
            )
        )
    about = [f for f in report.linkage.findings if f.serial == row.serial]
    if about:
        parts.append("<p><strong>Findings about this cartridge.</strong></p>")
        parts.append(
            table(
                ("severity", "kind", "finding"),
                [(f.severity.value, f.kind.value, f.message) for f in about],
            )
        )
    if row.history:
        parts.append("<p><strong>Its history in the logs</strong> (every record naming it).</p>")
        parts.append(
            table(
                ("event", "device", "seq", "bay", "corrected UTC", "device held by"),
                [
                    (
                        e.event.name,
                        e.device,
                        str(e.seq),
                        str(e.bay),
                        e.time_text(),
                        str(e.device_custody),
                    )
                    for e in row.history
                ],
            )
        )
    return "\n".join(parts)


def _timeline_section(report: CourtReport) -> str:
    span = report.span
    if span is None or not report.timelines:
        return (
            "<p>No device event can be placed in time around the incident (no window given "
            "and no deployment with a corrected time), so no timeline is drawn.</p>"
        )
    window = report.linkage.window
    shaded = None if window is None else (window.start_ms, window.end_ms)
    parts = [
        f"<p>From {escape(utc_text(span[0]))} to {escape(utc_text(span[1]))}: the incident "
        "window (shaded) and five minutes either side. Each event is drawn at its corrected "
        "UTC with its ± bound; a thick bar is the length of an energy application; a red "
        "diamond a cartridge fired.</p>"
    ]
    for timeline in report.timelines:
        marks = timeline_marks(timeline, span)
        name = f"timeline-{timeline.serial}"
        parts.append(f'<h3 id="{escape(name)}">Device {escape(timeline.serial)}</h3>')
        plot = plots.timeline_chart(
            name, f"Device {timeline.serial} around the incident", marks, span, shaded
        )
        parts.append(f"<figure>{plot}</figure>")
    return "\n".join(parts)


def _integrity_section(report: CourtReport) -> str:
    outcomes: Mapping[str, Outcome] = {o.path: o for o in report.verification}
    parts = []
    for image in report.images:
        outcome = outcomes.get(image.name)
        rows = [
            ("file", image.name),
            ("SHA-256", image.sha256),
            ("size", f"{image.size} bytes"),
            ("device", image.device),
            (
                "downloaded (host clock, UTC)",
                f"{utc_text(image.host_start_ms)} to {utc_text(image.host_end_ms)}",
            ),
            ("host clock source", image.clock_source),
            ("operator", image.operator),
            ("workstation", image.workstation),
            ("download tool", image.tool),
        ]
        if outcome is not None and outcome.report is not None:
            rows.append(("coverage", str(outcome.report.coverage)))
            rows.append(("verification", "no error finding" if outcome.ok else "ERRORS"))
        elif outcome is not None:
            rows.append(("verification", f"could not be read: {outcome.error}"))
        else:
            rows.append(("verification", "not verified: no trusted roots were given"))
        parts.append(f"<h3>{escape(image.name)}</h3>")
        parts.append(table(("", ""), rows))
        if outcome is not None and outcome.report is not None and outcome.report.findings:
            parts.append(
                table(
                    ("severity", "kind", "seq", "offset", "finding"),
                    [
                        (
                            f.severity.value,
                            f.kind.value,
                            "" if f.seq_first is None else f"{f.seq_first}–{f.seq_last}",
                            "" if f.offset is None else str(f.offset),
                            f.message,
                        )
                        for f in outcome.report.findings
                    ],
                )
            )
    return "\n".join(parts)


def _clock_section(report: CourtReport) -> str:
    parts = []
    for device in report.linkage.devices:
        text = (
            device.clock.describe()
            if device.clock is not None
            else f"{device.serial}: no records, no clock model"
        )
        parts.append(f"<pre>{escape(text)}</pre>")
    return "\n".join(parts)


def _findings_section(report: CourtReport) -> str:
    findings = report.linkage.findings
    if not findings:
        return "<p>None.</p>"
    return table(
        ("severity", "kind", "cartridge", "device", "seq", "finding"),
        [
            (
                f.severity.value,
                f.kind.value,
                f.serial or "",
                f.device or "",
                "" if f.seq is None else str(f.seq),
                f.message,
            )
            for f in findings
        ],
    )


def _method(report: CourtReport) -> str:
    settings = report.settings
    roots = ", ".join(report.roots) if report.roots else "none given: no image was verified"
    return f"""<p>Each download was verified (record CRCs, the hash chain from the signed
base, the device's signatures on seals and the download statement, its certificate chain to
the trusted roots: {escape(roots)}). The recovered tags were matched against the serials
issued with a stated read-error model; the cartridge's serial was then looked for in every
<code>DEPLOY</code> record; each record's device time was corrected to UTC by the device's
clock model, anchored at each download (the device's signed statement of its clock against
the host's UTC), with a maximum drift of ±{settings.max_drift_ppm:g} ppm
{"and host clock sets taken as anchors (the examiner's choice)" if settings.host_sets else ""};
custody was read from the issue list at that corrected time and its bound.</p>
<p><strong>What the evidence does not show.</strong></p>
<ul>
<li>A trigger pull, or a <code>DEPLOY</code>, is not current delivered to a person: only a
<code>CONNECTION</code> record says the probes made a circuit, and not through whom.</li>
<li>The bound on a corrected time assumes the clock never drifted faster than
±{settings.max_drift_ppm:g} ppm between anchors: it is an assumption about the hardware, not
a measurement.</li>
<li>A device keeps a bounded log: where it wrapped, the oldest records are gone (a
<code>log_wrap</code> finding says from where).</li>
<li>The acquisition's host times are as the download workstation's clock gave them; the
download statement proves the device's clock against them at that moment, not the
workstation's clock against UTC. Where the acquisition is signed by a workstation key, the
signature proves that workstation wrote those host fields and that no byte changed since;
it does not prove its clock was right, and it is only as strong as the key is kept.</li>
<li>The custody of a device or cartridge is the issue list's: the report cannot say who
physically held it.</li>
<li>A match's score is a probability under the stated read-error model; an
<strong>ambiguous</strong> match is a candidate, not a link.</li>
</ul>"""


def summary_lines(report: CourtReport) -> tuple[str, ...]:
    """The report's summary in plain sentences (the page's opening box; what ``taserlink
    report`` prints)."""
    linkage = report.linkage
    counts = linkage.counts()
    confirmed = sum(row.confirmed for row in linkage.rows)
    window = (
        "no incident window was given"
        if linkage.window is None
        else f"incident window {linkage.window}"
    )
    verdict = (
        "No error finding: every step of the chain holds."
        if report.ok
        else "The chain has ERROR findings: see each cartridge and the findings."
    )
    return (
        f"{len(linkage.images)} download(s) of {len(linkage.devices)} device(s); {window}.",
        f"{len(linkage.rows)} recovered cartridge(s): {confirmed} matched, "
        f"{len(linkage.rows) - confirmed} unconfirmed candidate(s); "
        f"{len(linkage.unmatched)} exhibit(s) matching no serial.",
        f"Findings: {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} info.",
        verdict,
    )


def _summary(report: CourtReport) -> str:
    chains = []
    for row in report.linkage.rows:
        for d in row.deployments:
            chains.append(
                (
                    row.serial,
                    f"{d.device} seq {d.seq}",
                    _time(d).split(" (")[0],
                    str(d.device_custody),
                    str(d.cartridge_custody),
                )
            )
    lines = summary_lines(report)
    body = '<div class="key">' + "".join(f"<p>{escape(x)}</p>" for x in lines) + "</div>"
    if chains:
        body += table(
            ("cartridge", "DEPLOY", "corrected UTC", "device held by", "cartridge signed out to"),
            chains,
        )
    return body


def _provenance(report: CourtReport) -> str:
    provenance = report.provenance
    rows = [(i.role or "", i.path, str(i.size), i.sha256) for i in provenance.inputs]
    settings = [(key, json.dumps(value)) for key, value in provenance.settings.items()]
    return (
        table(("role", "file", "bytes", "SHA-256"), rows)
        + table(("setting", "value"), settings)
        + f"<p>{escape(provenance.tool)} {escape(provenance.version)}. A second examiner "
        "reproduces this report from these files: check each SHA-256 (<code>sha256sum</code>), "
        "then run <code>taserlink report</code> with the same options; the page is the same "
        "byte for byte (docs/report.md). The same block is the <code>provenance</code> of "
        "<code>taserlink link --json</code> on the same inputs.</p>"
    )


def report_html(report: CourtReport) -> bytes:
    """The report as one self-contained HTML page (module docstring), UTF-8."""
    title = "Evidence report: recovered cartridges, deployments, devices and officers"
    sections = [
        ("summary", "Summary", _summary(report)),
        (
            "chains",
            "The chain of each recovered cartridge",
            "\n".join(_chain(report, row) for row in report.linkage.rows) or "<p>None.</p>",
        ),
        ("timelines", "Device timelines around the incident", _timeline_section(report)),
        ("integrity", "Integrity of each download", _integrity_section(report)),
        ("clocks", "Clock models and their anchors", _clock_section(report)),
        ("findings", "Consistency findings", _findings_section(report)),
        ("method", "Method and its limits", _method(report)),
        ("provenance", "Provenance", _provenance(report)),
    ]
    body = [f"<h1>{escape(title)}</h1>"]
    body.append(
        "<nav><p>"
        + " · ".join(f'<a href="#{key}">{escape(h)}</a>' for key, h, _ in sections)
        + "</p></nav>"
    )
    for key, heading, html in sections:
        body.append(f'<h2 id="{key}">{escape(heading)}</h2>\n{html}')
    return page(title, "\n".join(body))
