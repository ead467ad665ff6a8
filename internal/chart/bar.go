package chart

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// BarSeries is one set of bars, one value per category.
type BarSeries struct {
	// Name is shown in the legend and the tooltips.
	Name string
	// Values holds one value per category; NaN means no bar.
	Values []float64
	// Low and High, when not nil, are the ends of an error bar (e.g. a 95%
	// confidence interval) per category, in data units; NaN means none.
	Low, High []float64
	// Color is a CSS colour; "" takes the next palette colour.
	Color string
}

// RefLine is a horizontal reference line, e.g. a lift of 1 or the base
// rate.
type RefLine struct {
	// Value is where the line is drawn, in data units.
	Value float64
	// Label names the line beside it and in its tooltip.
	Label string
}

// BarChart draws vertical bars grouped by category: decile lift, each
// experiment group's rate with error bars, actual vs predicted counts.
type BarChart struct {
	// Title heads the chart and names it for screen readers.
	Title string
	// Desc is an optional longer description for screen readers.
	Desc string
	// X labels the category axis (only Label is used); Y is the value axis,
	// which always includes 0.
	X, Y Axis
	// Categories name the groups along the x axis.
	Categories []string
	// Series are the bars of each group, side by side.
	Series []BarSeries
	// Ref, when not nil, draws a dashed horizontal reference line.
	Ref *RefLine
	// Width and Height are the size in pixels; 0 means 640 × 400.
	Width, Height int
}

func (*BarChart) chart() {}

// at returns v[i] or NaN past the end (or for a nil slice).
func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

// SVG draws the chart.
func (c *BarChart) SVG() string {
	if c == nil {
		c = &BarChart{}
	}
	w, h := dims(c.Width, c.Height)
	var s svgWriter
	s.open(w, h, c.Title, c.Desc)

	var items []legendItem
	if len(c.Series) > 1 {
		for i, se := range c.Series {
			items = append(items, legendItem{name: se.Name, color: colorAt(se.Color, i), swatch: true})
		}
	}
	pa := plotArea{x0: 64, y0: titleH + 6, x1: w - 16 - legendWidth(items), y1: h - 48}

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, se := range c.Series {
		for k := range c.Categories {
			for _, v := range []float64{at(se.Values, k), at(se.Low, k), at(se.High, k)} {
				if finite(v) {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
	}
	if c.Ref != nil && finite(c.Ref.Value) && finite(lo) {
		lo, hi = min(lo, c.Ref.Value), max(hi, c.Ref.Value)
	}
	ys := newScale(c.Y, lo, hi, pa.y1, pa.y0, 5, true)
	s.frame(pa, nil, &ys, c.X.Label, c.Y.Label)
	if !ys.haveData {
		s.noData(pa.x0, pa.y0, pa.x1, pa.y1)
		return s.close()
	}

	nc := len(c.Categories)
	slot := (pa.x1 - pa.x0) / float64(nc)
	ns := max(1, len(c.Series))
	barW := slot * 0.8 / float64(ns)
	zero := ys.px(0)
	maxChars := int(slot / charW)
	for k, cat := range c.Categories {
		x0 := pa.x0 + slot*float64(k) + slot*0.1
		for i, se := range c.Series {
			v := at(se.Values, k)
			name := se.Name
			if name != "" {
				name += ", "
			}
			tip := name + cat + ": " + ys.value(v)
			l, u := at(se.Low, k), at(se.High, k)
			hasErr := finite(l) && finite(u)
			if hasErr {
				tip += " (" + ys.value(l) + " to " + ys.value(u) + ")"
			}
			bx := x0 + barW*float64(i)
			if finite(v) {
				y := ys.px(v)
				top, bh := min(y, zero), math.Abs(zero-y)
				fmt.Fprintf(&s.b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
					coord(bx+0.5), coord(top), coord(max(barW-1, 1)), coord(bh), esc(colorAt(se.Color, i)), esc(tip))
			} else {
				fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" fill="#888888" font-size="10"><title>%s</title>n/a</text>`,
					coord(bx+barW/2), coord(zero-4), esc(tip))
			}
			if hasErr {
				cx, y1, y2 := bx+barW/2, ys.px(l), ys.px(u)
				capW := min(barW*0.3, 8)
				fmt.Fprintf(&s.b, `<path class="err" d="M%s %sL%s %sM%s %sL%s %sM%s %sL%s %s" stroke="#222222" stroke-width="1.5" fill="none"><title>%s</title></path>`,
					coord(cx), coord(y1), coord(cx), coord(y2),
					coord(cx-capW), coord(y1), coord(cx+capW), coord(y1),
					coord(cx-capW), coord(y2), coord(cx+capW), coord(y2), esc(tip))
			}
		}
		label := cat
		if utf8.RuneCountInString(cat) > maxChars {
			label = truncate(cat, maxChars)
		}
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" fill="#444444" font-size="11"><title>%s</title>%s</text>`,
			coord(pa.x0+slot*(float64(k)+0.5)), coord(pa.y1+16), esc(cat), esc(label))
	}
	if c.Ref != nil && finite(c.Ref.Value) {
		y := ys.px(c.Ref.Value)
		fmt.Fprintf(&s.b, `<line class="ref" x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"><title>%s: %s</title></line>`,
			coord(pa.x0), coord(pa.x1), coord(y), coord(y), Grey, esc(c.Ref.Label), ys.value(c.Ref.Value))
		if c.Ref.Label != "" {
			fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="end" fill="#555555" font-size="11">%s</text>`, coord(pa.x1-4), coord(y-4), esc(c.Ref.Label))
		}
	}
	s.legend(pa.x1+16, pa.y0+10, items)
	return s.close()
}

// HBar is one bar of a horizontal bar chart.
type HBar struct {
	// Label names the bar, left of the axis.
	Label string
	// Value is the bar's length in data units; NaN means no bar.
	Value float64
	// Note is written after the bar's end, e.g. "churn 23%".
	Note string
	// Color overrides the chart's colour for this bar ("" = the chart's).
	Color string
}

// HBarChart draws one horizontal bar per item, in the given order: feature
// importance, segment sizes with their churn rate.
type HBarChart struct {
	// Title heads the chart and names it for screen readers.
	Title string
	// Desc is an optional longer description for screen readers.
	Desc string
	// X is the value axis; it always includes 0.
	X Axis
	// Bars are drawn top to bottom.
	Bars []HBar
	// Color is the bars' colour; "" means the first palette colour.
	Color string
	// Width is the size in pixels (0 means 640); the height follows from
	// the number of bars.
	Width int
}

func (*HBarChart) chart() {}

// SVG draws the chart.
func (c *HBarChart) SVG() string {
	if c == nil {
		c = &HBarChart{}
	}
	const rowH, bottom = 22.0, 48.0
	w, _ := dims(c.Width, 0)
	rows := max(len(c.Bars), 3)
	h := titleH + 10 + rowH*float64(rows) + bottom
	var s svgWriter
	s.open(w, h, c.Title, c.Desc)

	labelChars, noteChars := 0, 0
	for _, b := range c.Bars {
		labelChars = max(labelChars, utf8.RuneCountInString(b.Label))
		noteChars = max(noteChars, utf8.RuneCountInString(b.Note))
	}
	maxLabel := int(w * 0.35 / charW)
	labelChars = min(labelChars, maxLabel)
	noteChars = min(noteChars, 24)
	pa := plotArea{x0: 16 + charW*float64(labelChars) + 8, y0: titleH + 10, x1: w - 16 - charW*float64(noteChars), y1: h - bottom}

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range c.Bars {
		if finite(b.Value) {
			lo, hi = min(lo, b.Value), max(hi, b.Value)
		}
	}
	xs := newScale(c.X, lo, hi, pa.x0, pa.x1, 5, true)
	s.frame(pa, &xs, nil, c.X.Label, "")
	if !xs.haveData {
		s.noData(pa.x0, pa.y0, pa.x1, pa.y1)
		return s.close()
	}
	zero := xs.px(0)
	for i, b := range c.Bars {
		y := pa.y0 + rowH*float64(i)
		tip := b.Label + ": " + xs.value(b.Value)
		if b.Note != "" {
			tip += ", " + b.Note
		}
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="end" fill="#333333"><title>%s</title>%s</text>`,
			coord(pa.x0-8), coord(y+rowH/2+4), esc(b.Label), esc(truncate(b.Label, maxLabel)))
		end := zero
		if finite(b.Value) {
			x := xs.px(b.Value)
			left, bw := min(x, zero), math.Abs(x-zero)
			color := b.Color
			if color == "" {
				color = colorAt(c.Color, 0)
			}
			fmt.Fprintf(&s.b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
				coord(left), coord(y+3), coord(bw), coord(rowH-6), esc(color), esc(tip))
			end = max(x, zero)
		} else {
			fmt.Fprintf(&s.b, `<text x="%s" y="%s" fill="#888888" font-size="10"><title>%s</title>n/a</text>`,
				coord(zero+4), coord(y+rowH/2+4), esc(tip))
			end = zero + 24
		}
		if b.Note != "" {
			fmt.Fprintf(&s.b, `<text x="%s" y="%s" fill="#444444" font-size="11">%s</text>`,
				coord(end+6), coord(y+rowH/2+4), esc(truncate(b.Note, 24)))
		}
	}
	return s.close()
}
