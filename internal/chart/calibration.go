package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// CalBin is one bin of a calibration table.
type CalBin struct {
	// Lower and Upper are the bin's edges on the predicted probability.
	Lower, Upper float64
	// Predicted is the mean predicted probability of the bin's rows and
	// Observed their observed positive rate.
	Predicted, Observed float64
	// N is the number of rows in the bin; bins with N = 0 are not drawn.
	N int
}

// CalibrationPlot draws observed rate against mean predicted probability
// per bin, with the diagonal of perfect calibration, each point's size
// following its bin count, and a strip of bin counts beneath.
type CalibrationPlot struct {
	// Title heads the chart and names it for screen readers.
	Title string
	// Desc is an optional longer description for screen readers.
	Desc string
	// Name names the model in the legend ("" means "model").
	Name string
	// Bins are the calibration bins, in probability order.
	Bins []CalBin
	// Max fixes the upper end of both axes when in (0, 1]; 0 fits the axes
	// to the data, since a churn model may never predict above 0.3.
	Max float64
	// Width and Height are the size in pixels; 0 means 640 × 440.
	Width, Height int
}

func (*CalibrationPlot) chart() {}

// SVG draws the chart.
func (c *CalibrationPlot) SVG() string {
	if c == nil {
		c = &CalibrationPlot{}
	}
	height := c.Height
	if height <= 0 {
		height = 440
	}
	w, h := dims(c.Width, height)
	var s svgWriter
	s.open(w, h, c.Title, c.Desc)
	name := c.Name
	if name == "" {
		name = "model"
	}
	items := []legendItem{{name: name, color: Palette[0]}, {name: "perfectly calibrated", color: Grey, dashed: true}}
	const stripH = 56.0
	pa := plotArea{x0: 64, y0: titleH + 6, x1: w - 16 - legendWidth(items), y1: h - 48 - stripH - 10}

	top, maxN := 0.0, 0
	var bins []CalBin
	for _, b := range c.Bins {
		if b.N <= 0 || !finite(b.Predicted) || !finite(b.Observed) {
			continue
		}
		bins = append(bins, b)
		top = max(top, b.Predicted, b.Observed)
		if finite(b.Upper) {
			top = max(top, min(b.Upper, 1))
		}
		maxN = max(maxN, b.N)
	}
	ax := Axis{Min: 0, Max: 1, Percent: true}
	if c.Max > 0 && c.Max <= 1 {
		ax.Max = c.Max
	} else if len(bins) > 0 && top > 0 {
		ax.Max = min(1, niceStep(top, 5)*math.Ceil(top/niceStep(top, 5)-1e-9))
	}
	xa, ya := ax, ax
	xa.Label, ya.Label = "mean predicted probability", "observed rate"
	xs := newScale(xa, math.NaN(), math.NaN(), pa.x0, pa.x1, 5, false)
	ys := newScale(ya, math.NaN(), math.NaN(), pa.y1, pa.y0, 5, false)
	// Grid, ticks and the y title; the x title goes below the count strip.
	s.frame(pa, &xs, &ys, "", ya.Label)
	sy0, sy1 := pa.y1+24, pa.y1+24+stripH
	s.text((pa.x0+pa.x1)/2, h-10, "middle", "#333333", xa.Label)
	if len(bins) == 0 {
		s.noData(pa.x0, pa.y0, pa.x1, pa.y1)
		s.legend(pa.x1+16, pa.y0+10, items)
		return s.close()
	}
	fmt.Fprintf(&s.b, `<line class="ref" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"><title>perfectly calibrated</title></line>`,
		coord(xs.px(0)), coord(ys.px(0)), coord(xs.px(ax.Max)), coord(ys.px(ax.Max)), Grey)

	var d strings.Builder
	for i, b := range bins {
		if i == 0 {
			d.WriteByte('M')
		} else {
			d.WriteByte('L')
		}
		d.WriteString(coord(xs.px(b.Predicted)) + " " + coord(ys.px(b.Observed)))
	}
	fmt.Fprintf(&s.b, `<path class="series" d="%s" fill="none" stroke="%s" stroke-width="2"><title>%s</title></path>`, d.String(), Palette[0], esc(name))
	s.b.WriteString(`<g class="markers">`)
	for _, b := range bins {
		r := 3 + 5*math.Sqrt(float64(b.N)/float64(maxN))
		fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="%s" fill="%s" fill-opacity="0.85" stroke="#ffffff"><title>%s</title></circle>`,
			coord(xs.px(b.Predicted)), coord(ys.px(b.Observed)), coord(r), Palette[0], esc(binTip(b)))
	}
	s.b.WriteString(`</g>`)

	// Count strip: one bar per bin over its probability range.
	fmt.Fprintf(&s.b, `<g class="counts"><text x="%s" y="%s" text-anchor="end" fill="#444444" font-size="11">rows</text>`, coord(pa.x0-6), coord(sy0+12))
	fmt.Fprintf(&s.b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#555555"/>`, coord(pa.x0), coord(pa.x1), coord(sy1), coord(sy1))
	for _, b := range bins {
		lo, hi := b.Lower, b.Upper
		if !finite(lo) || !finite(hi) || hi <= lo {
			lo, hi = b.Predicted-0.005, b.Predicted+0.005
		}
		x0, x1 := xs.px(lo), xs.px(hi)
		if x1-x0 < 1 {
			continue
		}
		bh := (stripH - 12) * float64(b.N) / float64(maxN)
		fmt.Fprintf(&s.b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s" fill-opacity="0.5"><title>%s</title></rect>`,
			coord(x0+0.5), coord(sy1-bh), coord(max(x1-x0-1, 1)), coord(bh), Palette[0], esc(binTip(b)))
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" fill="#444444" font-size="10">%s</text>`,
			coord((x0+x1)/2), coord(sy1-bh-2), esc(fmtGroup(strconv.Itoa(b.N))))
	}
	s.b.WriteString(`</g>`)
	s.legend(pa.x1+16, pa.y0+10, items)
	return s.close()
}

func binTip(b CalBin) string {
	return fmt.Sprintf("bin %s–%s: %s rows, mean predicted %s, observed %s",
		FormatValue(b.Lower, true), FormatValue(b.Upper, true), fmtGroup(strconv.Itoa(b.N)),
		FormatValue(b.Predicted, true), FormatValue(b.Observed, true))
}
