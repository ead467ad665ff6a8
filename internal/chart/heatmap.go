package chart

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Heatmap draws a matrix of coloured cells with a label in each: a segment
// transition matrix (rows: segment before, columns: segment after) or an
// overlap table between two segment families.
type Heatmap struct {
	// Title heads the chart and names it for screen readers.
	Title string
	// Desc is an optional longer description for screen readers.
	Desc string
	// RowTitle and ColTitle name what the rows and columns are, e.g.
	// "segment on 2025-10-01" and "segment on 2025-11-01".
	RowTitle, ColTitle string
	// Rows and Cols are the row and column labels.
	Rows, Cols []string
	// Values[i][j] sets the colour of cell (i, j), from white at the
	// smallest finite value to dark blue at the largest; NaN is grey.
	Values [][]float64
	// Cells[i][j] is the text written in cell (i, j); nil writes the value
	// (FormatValue with Percent). A cell's tooltip has its row, column,
	// text and value.
	Cells [][]string
	// Percent formats values as percentages.
	Percent bool
	// Width is the size in pixels (0 means 640); the height follows from
	// the number of rows.
	Width int
}

func (*Heatmap) chart() {}

// heat returns the fill colour for t in [0, 1]: a sequential blue scale
// from #f7fbff to #08306b (ColorBrewer Blues) and whether text on it should
// be white.
func heat(t float64) (string, bool) {
	t = max(0, min(1, t))
	lo := [3]float64{0xf7, 0xfb, 0xff}
	mid := [3]float64{0x6b, 0xae, 0xd6}
	hi := [3]float64{0x08, 0x30, 0x6b}
	var c [3]float64
	for k := range c {
		if t < 0.5 {
			c[k] = lo[k] + (mid[k]-lo[k])*t*2
		} else {
			c[k] = mid[k] + (hi[k]-mid[k])*(t-0.5)*2
		}
	}
	return fmt.Sprintf("#%02x%02x%02x", int(math.Round(c[0])), int(math.Round(c[1])), int(math.Round(c[2]))), t > 0.55
}

// SVG draws the chart.
func (c *Heatmap) SVG() string {
	if c == nil {
		c = &Heatmap{}
	}
	const cellH = 30.0
	w, _ := dims(c.Width, 0)
	nr, nc := len(c.Rows), len(c.Cols)
	labelChars := utf8.RuneCountInString(c.RowTitle)
	for _, r := range c.Rows {
		labelChars = max(labelChars, utf8.RuneCountInString(r))
	}
	labelChars = min(labelChars, int(w*0.3/charW))
	x0 := 16 + charW*float64(labelChars) + 8
	y0 := float64(titleH) + 40
	h := y0 + cellH*float64(max(nr, 3)) + 20
	var s svgWriter
	s.open(w, h, c.Title, c.Desc)
	x1 := w - 16
	if nr == 0 || nc == 0 {
		s.noData(x0, y0, x1, h-20)
		return s.close()
	}
	cellW := (x1 - x0) / float64(nc)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < nr; i++ {
		for j := 0; j < nc; j++ {
			if v := cellValue(c.Values, i, j); finite(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if c.ColTitle != "" {
		s.text((x0+x1)/2, y0-26, "middle", "#333333", truncate(c.ColTitle, int((x1-x0)/charW)))
	}
	if c.RowTitle != "" {
		// Over the row labels, on the line of the column labels.
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="end" fill="#333333" font-style="italic">%s</text>`,
			coord(x0-8), coord(y0-8), esc(truncate(c.RowTitle, labelChars)))
	}
	colChars := int(cellW / (charW * 0.95))
	for j, col := range c.Cols {
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" fill="#333333" font-size="11"><title>%s</title>%s</text>`,
			coord(x0+cellW*(float64(j)+0.5)), coord(y0-8), esc(col), esc(truncate(col, colChars)))
	}
	cellChars := int(cellW / (charW * 0.9))
	for i, row := range c.Rows {
		y := y0 + cellH*float64(i)
		fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="end" fill="#333333" font-size="11"><title>%s</title>%s</text>`,
			coord(x0-8), coord(y+cellH/2+4), esc(row), esc(truncate(row, labelChars)))
		for j, col := range c.Cols {
			v := cellValue(c.Values, i, j)
			fill, white := "#dddddd", false
			if finite(v) {
				t := 0.0
				if hi > lo {
					t = (v - lo) / (hi - lo)
				}
				fill, white = heat(t)
			}
			txt := FormatValue(v, c.Percent)
			if c.Cells != nil {
				txt = ""
				if i < len(c.Cells) && j < len(c.Cells[i]) {
					txt = c.Cells[i][j]
				}
			}
			x := x0 + cellW*float64(j)
			tip := row + " / " + col + ": " + txt
			if c.Cells != nil {
				tip += " (" + FormatValue(v, c.Percent) + ")"
			}
			fmt.Fprintf(&s.b, `<rect class="cell" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#ffffff"><title>%s</title></rect>`,
				coord(x), coord(y), coord(cellW), coord(cellH), fill, esc(tip))
			tc := "#222222"
			if white {
				tc = "#ffffff"
			}
			if txt != "" {
				fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="middle" fill="%s" font-size="11" pointer-events="none">%s</text>`,
					coord(x+cellW/2), coord(y+cellH/2+4), tc, esc(truncate(txt, cellChars)))
			}
		}
	}
	return s.close()
}

func cellValue(v [][]float64, i, j int) float64 {
	if i < len(v) && j < len(v[i]) {
		return v[i][j]
	}
	return math.NaN()
}
