// Package chart draws small, self-contained SVG charts and HTML report pages
// for lapse's reports: line charts (ROC, gains and cumulative curves), bar
// charts with optional error bars, horizontal bar charts, calibration plots
// and heatmaps with cell labels, and a Page that puts them together with
// tables and text.
//
// It imports only the standard library, so every package may use it.
//
// # Invariants
//
//   - Output is deterministic: the same chart value gives the same bytes.
//     Coordinates are written with one decimal, values in text with fixed
//     precision.
//   - Output needs nothing else: no script, no stylesheet or font to fetch, no
//     URL at all. Inline SVG (Chart.SVG) has no xmlns attribute, which HTML
//     does not need; Standalone adds it for a .svg file.
//   - Every piece of caller text (titles, labels, names, table cells) is
//     escaped, and characters XML forbids are replaced by U+FFFD, so the SVG
//     is well-formed XML whatever the input.
//   - Charts are accessible: the root has role="img" and an aria-label with the
//     title; the first child is a <title>, the optional Desc a <desc>; every
//     mark (line, bar, point, cell) has a <title> tooltip with its values.
//   - Bad data never panics. NaN and infinite values are treated as missing
//     (a line breaks, a bar or cell is left out and its tooltip says "no
//     data"); a chart without a single finite value draws its frame with the
//     text "no data". Slices of unequal length are read up to the shorter.
//
// # Caveats
//
// Text width is estimated from the number of characters (about 0.6 em each),
// since nothing is measured: very long labels are shortened with "…" and
// keep their full text in a tooltip.
package chart
