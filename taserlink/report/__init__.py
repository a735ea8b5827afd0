"""Pages for people: the oversight group's scrutiny pack (:mod:`taserlink.report.scrutiny`),
drawn with matplotlib (:mod:`taserlink.report.plots`) into self-contained HTML
(:mod:`taserlink.report.html`)."""
