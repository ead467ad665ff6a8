package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Chart is a chart that renders itself as inline SVG. Only the chart types of
// this package implement it, so a Page can embed its SVG unescaped.
type Chart interface {
	// SVG returns the chart as an <svg> element for inline use in HTML.
	SVG() string
	chart()
}

// Standalone returns c's SVG with the SVG namespace declared, as a .svg file
// needs (inline SVG in HTML does not).
func Standalone(c Chart) string {
	s := c.SVG()
	return strings.Replace(s, "<svg ", `<svg xmlns="http://www.w3.org/2000/svg" `, 1) + "\n"
}

// Axis describes one axis of a chart.
type Axis struct {
	// Label is the axis title, e.g. "share of users targeted".
	Label string
	// Min and Max fix the axis range when Min < Max; otherwise the range
	// covers the data and is widened to round tick values.
	Min, Max float64
	// Percent writes tick labels and values as percentages of 1 (0.25 is
	// "25%").
	Percent bool
}

// Palette holds the default series colours: the Okabe–Ito colours, which
// stay distinct for the common forms of colour blindness.
var Palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"}

// Grey is the colour of reference lines (diagonals, base rates).
const Grey = "#888888"

const (
	defaultWidth  = 640
	defaultHeight = 400
	fontSize      = 12
	charW         = 7.0 // estimated width of one character at fontSize
	titleH        = 34  // room for the chart title
	noData        = "no data"
)

// esc escapes s for XML text and attribute values, replacing characters XML
// does not allow (most control characters, invalid UTF-8) by U+FFFD.
func esc(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune('\uFFFD')
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\'':
			b.WriteString("&#39;")
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate shortens s to at most n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	if n < 2 {
		n = 2
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// coord formats a pixel coordinate with one decimal ("-0.0" becomes "0.0").
func coord(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// decimalsFor returns how many decimals show values on a grid of the given
// step.
func decimalsFor(step float64) int {
	if !(step > 0) || !finite(step) {
		return 0
	}
	d := int(math.Ceil(-math.Log10(step) - 1e-9))
	return max(0, min(d, 10))
}

// fmtFixed formats v with d decimals, never "-0".
func fmtFixed(v float64, d int) string {
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

// fmtTick formats a tick value on a grid with the given step.
func fmtTick(v, step float64, percent bool) string {
	if percent {
		return fmtFixed(v*100, decimalsFor(step*100)) + "%"
	}
	return fmtGroup(fmtFixed(v, decimalsFor(step)))
}

// fmtGroup adds thousands separators to the integer part of a formatted
// number.
func fmtGroup(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) > 4 {
		var b strings.Builder
		for i, c := range intPart {
			if i > 0 && (len(intPart)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		intPart = b.String()
	}
	if hasFrac {
		intPart += "." + frac
	}
	if neg {
		return "-" + intPart
	}
	return intPart
}

// FormatValue formats a value for a tooltip or label: three significant
// digits (at most six decimals), thousands separated, or a percentage with
// one decimal when percent is set. NaN and infinities are "no data".
func FormatValue(v float64, percent bool) string {
	if !finite(v) {
		return noData
	}
	if percent {
		return fmtFixed(v*100, 1) + "%"
	}
	a := math.Abs(v)
	d := 0
	if a > 0 && a < 100 {
		d = min(6, 2-int(math.Floor(math.Log10(a))))
	}
	return fmtGroup(fmtFixed(v, d))
}

// niceStep returns a round step (1, 2, 2.5 or 5 times a power of ten) that
// cuts span into about n intervals.
func niceStep(span float64, n int) float64 {
	if !(span > 0) || !finite(span) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if s := m * mag; s >= raw*(1-1e-9) {
			return s
		}
	}
	return 10 * mag
}

// scale maps data values on an axis to pixels.
type scale struct {
	lo, hi   float64 // data range
	p0, p1   float64 // pixel range (p1 may be < p0 for y)
	step     float64 // tick step
	percent  bool
	haveData bool
}

// newScale fits the axis a to the data range [dlo, dhi] (which may be
// non-finite when there is no data), over pixels p0..p1, with about n ticks.
// includeZero widens the range to contain 0 (bars).
func newScale(a Axis, dlo, dhi, p0, p1 float64, n int, includeZero bool) scale {
	s := scale{p0: p0, p1: p1, percent: a.Percent, haveData: finite(dlo) && finite(dhi)}
	switch {
	case finite(a.Min) && finite(a.Max) && a.Min < a.Max:
		s.lo, s.hi = a.Min, a.Max
		s.step = niceStep(s.hi-s.lo, n)
		return s
	case !s.haveData:
		dlo, dhi = 0, 1
	}
	if includeZero {
		dlo, dhi = min(dlo, 0), max(dhi, 0)
	}
	if dlo == dhi {
		if dlo == 0 {
			dhi = 1
		} else {
			d := math.Abs(dlo) / 2
			dlo, dhi = dlo-d, dhi+d
			if includeZero {
				dlo, dhi = min(dlo, 0), max(dhi, 0)
			}
		}
	}
	s.step = niceStep(dhi-dlo, n)
	s.lo = math.Floor(dlo/s.step+1e-9) * s.step
	s.hi = math.Ceil(dhi/s.step-1e-9) * s.step
	if s.lo == s.hi {
		s.hi = s.lo + s.step
	}
	return s
}

// px maps a data value to a pixel, clamped to the axis range.
func (s scale) px(v float64) float64 {
	v = max(s.lo, min(s.hi, v))
	return s.p0 + (v-s.lo)/(s.hi-s.lo)*(s.p1-s.p0)
}

// ticks returns the tick values within the range.
func (s scale) ticks() []float64 {
	var t []float64
	first := math.Ceil(s.lo/s.step - 1e-9)
	for k := first; ; k++ {
		v := k * s.step
		if v > s.hi+s.step*1e-9 || len(t) > 50 {
			break
		}
		if math.Abs(v) < s.step*1e-9 {
			v = 0
		}
		t = append(t, v)
	}
	return t
}

func (s scale) tick(v float64) string { return fmtTick(v, s.step, s.percent) }

func (s scale) value(v float64) string { return FormatValue(v, s.percent) }

// svgWriter builds one SVG document.
type svgWriter struct {
	b    strings.Builder
	w, h float64
}

// open writes the root element, the title and the description.
func (s *svgWriter) open(w, h float64, title, desc string) {
	s.w, s.h = w, h
	fmt.Fprintf(&s.b, `<svg width="%s" height="%s" viewBox="0 0 %s %s" role="img" aria-label="%s" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="%d">`,
		coord(w), coord(h), coord(w), coord(h), esc(title), fontSize)
	fmt.Fprintf(&s.b, `<title>%s</title>`, esc(title))
	if desc != "" {
		fmt.Fprintf(&s.b, `<desc>%s</desc>`, esc(desc))
	}
	s.b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>`)
	if title != "" {
		fmt.Fprintf(&s.b, `<text x="%s" y="20" font-size="14" font-weight="600" fill="#222222">%s</text>`,
			coord(10), esc(truncate(title, int((w-20)/(charW*1.15)))))
	}
}

func (s *svgWriter) close() string {
	s.b.WriteString(`</svg>`)
	return s.b.String()
}

// text writes a text element; anchor is "start", "middle" or "end".
func (s *svgWriter) text(x, y float64, anchor, fill, txt string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s" fill="%s">%s</text>`, coord(x), coord(y), anchor, fill, esc(txt))
}

// noData writes the "no data" message in the middle of a rectangle.
func (s *svgWriter) noData(x0, y0, x1, y1 float64) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" fill="#666666" font-size="14">%s</text>`,
		coord((x0+x1)/2), coord((y0+y1)/2), noData)
}

// plotArea is the rectangle inside the axes.
type plotArea struct{ x0, y0, x1, y1 float64 }

// frame draws grid lines, tick labels and axis titles for x and y scales.
// A nil-stepped scale (x of a bar chart) is skipped.
func (s *svgWriter) frame(pa plotArea, xs *scale, ys *scale, xLabel, yLabel string) {
	s.b.WriteString(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`)
	if ys != nil {
		for _, v := range ys.ticks() {
			y := ys.px(v)
			fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`, coord(pa.x0), coord(pa.x1), coord(y), coord(y))
		}
	}
	if xs != nil {
		for _, v := range xs.ticks() {
			x := xs.px(v)
			fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`, coord(x), coord(x), coord(pa.y0), coord(pa.y1))
		}
	}
	s.b.WriteString(`</g>`)
	fmt.Fprintf(&s.b, `<g class="axes" stroke="#555555" stroke-width="1"><line x1="%s" x2="%s" y1="%s" y2="%s"/><line x1="%s" x2="%s" y1="%s" y2="%s"/></g>`,
		coord(pa.x0), coord(pa.x1), coord(pa.y1), coord(pa.y1), coord(pa.x0), coord(pa.x0), coord(pa.y0), coord(pa.y1))
	s.b.WriteString(`<g class="ticks" fill="#444444" font-size="11">`)
	if ys != nil {
		for _, v := range ys.ticks() {
			fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, coord(pa.x0-6), coord(ys.px(v)+4), esc(ys.tick(v)))
		}
	}
	if xs != nil {
		for _, v := range xs.ticks() {
			fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, coord(xs.px(v)), coord(pa.y1+16), esc(xs.tick(v)))
		}
	}
	s.b.WriteString(`</g>`)
	if xLabel != "" {
		s.text((pa.x0+pa.x1)/2, pa.y1+36, "middle", "#333333", truncate(xLabel, int((pa.x1-pa.x0)/charW)))
	}
	if yLabel != "" {
		fmt.Fprintf(&s.b, `<text transform="translate(14 %s) rotate(-90)" text-anchor="middle" fill="#333333">%s</text>`,
			coord((pa.y0+pa.y1)/2), esc(truncate(yLabel, int((pa.y1-pa.y0)/charW))))
	}
}

// legendItem is one key of a legend.
type legendItem struct {
	name   string
	color  string
	dashed bool
	swatch bool // a filled square instead of a line sample
}

// legendWidth is the room a right-hand legend needs (0 for none).
func legendWidth(items []legendItem) float64 {
	if len(items) == 0 {
		return 0
	}
	n := 0
	for _, it := range items {
		n = max(n, utf8.RuneCountInString(it.name))
	}
	return 36 + charW*float64(min(n, 24)) + 10
}

// legend writes the keys in a column starting at (x, y).
func (s *svgWriter) legend(x, y float64, items []legendItem) {
	if len(items) == 0 {
		return
	}
	s.b.WriteString(`<g class="legend">`)
	for i, it := range items {
		yy := y + float64(i)*18
		if it.swatch {
			fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="12" height="12" fill="%s"/>`, coord(x+6), coord(yy-9), esc(it.color))
		} else {
			dash := ""
			if it.dashed {
				dash = ` stroke-dasharray="6 4"`
			}
			fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="2.5"%s/>`,
				coord(x), coord(x+24), coord(yy-3), coord(yy-3), esc(it.color), dash)
		}
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" fill="#333333"><title>%s</title>%s</text>`, coord(x+30), coord(yy+1), esc(it.name), esc(truncate(it.name, 24)))
	}
	s.b.WriteString(`</g>`)
}

// colorAt returns the explicit colour c or the i-th palette colour.
func colorAt(c string, i int) string {
	if c != "" {
		return c
	}
	return Palette[i%len(Palette)]
}

// dims returns w and h, or the defaults for values <= 0.
func dims(w, h int) (float64, float64) {
	if w <= 0 {
		w = defaultWidth
	}
	if h <= 0 {
		h = defaultHeight
	}
	return float64(w), float64(h)
}
