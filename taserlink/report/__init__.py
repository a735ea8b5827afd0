"""Pages for people, drawn with matplotlib (:mod:`taserlink.report.plots`) into
self-contained HTML (:mod:`taserlink.report.html`): the examiner's report for court
(:mod:`taserlink.report.court`, printed to PDF by :mod:`taserlink.report.pdf`, with the case
as CASE/UCO by :mod:`taserlink.report.case`) and the oversight group's scrutiny pack
(:mod:`taserlink.report.scrutiny`)."""
