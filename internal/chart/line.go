package chart

import (
	"fmt"
	"math"
	"strings"
)

// Series is one named line of a LineChart.
type Series struct {
	// Name is shown in the legend and the line's tooltip.
	Name string
	// X and Y are the points, in drawing order. A point with a NaN or
	// infinite coordinate breaks the line.
	X, Y []float64
	// Color is a CSS colour; "" takes the next palette colour.
	Color string
	// Dashed draws the line dashed (baselines).
	Dashed bool
	// Markers draws a dot with a tooltip at every point; use it for short
	// series (tens of points).
	Markers bool
	// Note is added to the legend entry and the line's tooltip, e.g.
	// "AUC 0.812".
	Note string
}

// LineChart plots several series of points joined by lines: ROC curves,
// gains curves, cumulative curves, metrics over time.
type LineChart struct {
	// Title heads the chart and names it for screen readers.
	Title string
	// Desc is an optional longer description for screen readers.
	Desc string
	// X and Y describe the axes.
	X, Y Axis
	// Series are the lines, drawn in order.
	Series []Series
	// Diagonal draws the reference line y = x (chance for ROC, random
	// targeting for gains) across the plot, named DiagonalLabel in the
	// legend ("" means "y = x").
	Diagonal      bool
	DiagonalLabel string
	// Width and Height are the size in pixels; 0 means 640 × 400.
	Width, Height int
}

func (*LineChart) chart() {}

// SVG draws the chart.
func (c *LineChart) SVG() string {
	if c == nil {
		c = &LineChart{}
	}
	w, h := dims(c.Width, c.Height)
	var s svgWriter
	s.open(w, h, c.Title, c.Desc)

	var items []legendItem
	for i, se := range c.Series {
		items = append(items, legendItem{name: seriesName(se), color: colorAt(se.Color, i), dashed: se.Dashed})
	}
	diagName := c.DiagonalLabel
	if diagName == "" {
		diagName = "y = x"
	}
	if c.Diagonal {
		items = append(items, legendItem{name: diagName, color: Grey, dashed: true})
	}
	if len(items) == 1 && !c.Diagonal && items[0].name == "" {
		items = nil
	}
	lw := legendWidth(items)
	pa := plotArea{x0: 64, y0: titleH + 6, x1: w - 16 - lw, y1: h - 48}

	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, se := range c.Series {
		n := min(len(se.X), len(se.Y))
		for j := 0; j < n; j++ {
			if finite(se.X[j]) && finite(se.Y[j]) {
				xlo, xhi = min(xlo, se.X[j]), max(xhi, se.X[j])
				ylo, yhi = min(ylo, se.Y[j]), max(yhi, se.Y[j])
			}
		}
	}
	if c.Diagonal && finite(xlo) {
		ylo, yhi = min(ylo, xlo), max(yhi, xhi)
	}
	xs := newScale(c.X, xlo, xhi, pa.x0, pa.x1, 5, false)
	ys := newScale(c.Y, ylo, yhi, pa.y1, pa.y0, 5, false)
	s.frame(pa, &xs, &ys, c.X.Label, c.Y.Label)
	if !xs.haveData {
		s.noData(pa.x0, pa.y0, pa.x1, pa.y1)
		s.legend(pa.x1+16, pa.y0+10, items)
		return s.close()
	}
	if c.Diagonal {
		lo, hi := max(xs.lo, ys.lo), min(xs.hi, ys.hi)
		if lo < hi {
			fmt.Fprintf(&s.b, `<line class="ref" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"><title>%s</title></line>`,
				coord(xs.px(lo)), coord(ys.px(lo)), coord(xs.px(hi)), coord(ys.px(hi)), Grey, esc(diagName))
		}
	}
	for i, se := range c.Series {
		color := colorAt(se.Color, i)
		n := min(len(se.X), len(se.Y))
		var d strings.Builder
		pen := false
		for j := 0; j < n; j++ {
			if !finite(se.X[j]) || !finite(se.Y[j]) {
				pen = false
				continue
			}
			if pen {
				d.WriteByte('L')
			} else {
				if d.Len() > 0 {
					d.WriteByte(' ')
				}
				d.WriteByte('M')
			}
			d.WriteString(coord(xs.px(se.X[j])) + " " + coord(ys.px(se.Y[j])))
			pen = true
		}
		if d.Len() == 0 {
			continue
		}
		dash := ""
		if se.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&s.b, `<path class="series" d="%s" fill="none" stroke="%s" stroke-width="2.2" stroke-linejoin="round"%s><title>%s</title></path>`,
			d.String(), esc(color), dash, esc(seriesName(se)))
		if se.Markers {
			s.b.WriteString(`<g class="markers">`)
			for j := 0; j < n; j++ {
				if !finite(se.X[j]) || !finite(se.Y[j]) {
					continue
				}
				fmt.Fprintf(&s.b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"><title>%s: %s, %s</title></circle>`,
					coord(xs.px(se.X[j])), coord(ys.px(se.Y[j])), esc(color), esc(se.Name), xs.value(se.X[j]), ys.value(se.Y[j]))
			}
			s.b.WriteString(`</g>`)
		}
	}
	s.legend(pa.x1+16, pa.y0+10, items)
	return s.close()
}

// seriesName is the legend text of a series: its name and note.
func seriesName(se Series) string {
	switch {
	case se.Note == "":
		return se.Name
	case se.Name == "":
		return se.Note
	}
	return se.Name + " (" + se.Note + ")"
}
