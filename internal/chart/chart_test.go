package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/chart/ -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (%d vs %d bytes); review the change and rerun with -update", path, len(got), len(want))
	}
}

// wellFormed walks s with encoding/xml and returns the element names seen,
// the text of every <title>, and all character data.
func wellFormed(t *testing.T, s string) (names map[string]int, titles []string, text string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	names = map[string]int{}
	var stack []string
	var all, cur strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			names[x.Name.Local]++
			stack = append(stack, x.Name.Local)
			if x.Name.Local == "title" {
				cur.Reset()
			}
		case xml.EndElement:
			if x.Name.Local == "title" {
				titles = append(titles, cur.String())
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			all.Write(x)
			if len(stack) > 0 && stack[len(stack)-1] == "title" {
				cur.Write(x)
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return names, titles, all.String()
}

// The sample charts: one per kind, with data shaped like the reports'.
func sampleCharts() map[string]Chart {
	// A ROC-like curve and a gains-like curve; exact values do not matter.
	roc := Series{Name: "model", X: []float64{0, 0.05, 0.1, 0.2, 0.4, 0.7, 1}, Y: []float64{0, 0.3, 0.48, 0.66, 0.84, 0.95, 1}, Note: "AUC 0.812"}
	rec := Series{Name: "recency", X: []float64{0, 0.1, 0.3, 0.6, 1}, Y: []float64{0, 0.3, 0.6, 0.85, 1}, Dashed: true, Note: "AUC 0.710"}
	return map[string]Chart{
		"line_roc": &LineChart{
			Title: "ROC curve, out-of-time", X: Axis{Label: "false positive rate", Min: 0, Max: 1},
			Y: Axis{Label: "true positive rate", Min: 0, Max: 1}, Series: []Series{roc, rec},
			Diagonal: true, DiagonalLabel: "chance", Width: 520, Height: 420,
		},
		"line_markers": &LineChart{
			Title: "AUC by snapshot", X: Axis{Label: "snapshot"}, Y: Axis{Label: "AUC"},
			Series: []Series{{Name: "model", X: []float64{1, 2, 3}, Y: []float64{0.79, 0.81, 0.8}, Markers: true}},
		},
		"bar_lift": &BarChart{
			Title: "Lift by decile", X: Axis{Label: "decile"}, Y: Axis{Label: "lift"},
			Categories: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"},
			Series:     []BarSeries{{Name: "lift", Values: []float64{3.1, 2.2, 1.5, 1.1, 0.9, 0.7, 0.5, 0.4, 0.3, 0.3}}},
			Ref:        &RefLine{Value: 1, Label: "base rate"},
		},
		"bar_errors": &BarChart{
			Title: "Retention by group", Y: Axis{Label: "retention", Percent: true},
			Categories: []string{"treatment", "control"},
			Series: []BarSeries{
				{Name: "week 4", Values: []float64{0.42, 0.389}, Low: []float64{0.405, 0.37}, High: []float64{0.435, 0.408}},
				{Name: "week 8", Values: []float64{0.31, 0.30}, Low: []float64{0.296, 0.28}, High: []float64{0.324, 0.32}},
			},
		},
		"hbar_importance": &HBarChart{
			Title: "Feature importance (gain)", X: Axis{Label: "share of total gain", Percent: true},
			Bars: []HBar{{Label: "recency_days", Value: 0.41}, {Label: "active_days_30d", Value: 0.22}, {Label: "trend_30d", Value: 0.12, Note: "falling use"}},
		},
		"calibration": &CalibrationPlot{
			Title: "Calibration, out-of-time",
			Bins: []CalBin{
				{0, 0.1, 0.05, 0.04, 4000}, {0.1, 0.2, 0.15, 0.17, 2500}, {0.2, 0.3, 0.25, 0.23, 1200},
				{0.3, 0.4, 0.34, 0.37, 400}, {0.4, 0.5, 0.45, 0, 0},
			},
		},
		"heatmap": &Heatmap{
			Title: "Risk band transitions", RowTitle: "band on 2025-10-01", ColTitle: "band on 2025-11-01",
			Rows: []string{"high", "medium", "low"}, Cols: []string{"high", "medium", "low"},
			Values: [][]float64{{0.7, 0.2, 0.1}, {0.15, 0.6, 0.25}, {0.05, 0.15, 0.8}},
			Cells:  [][]string{{"700 (70%)", "200", "100"}, {"150", "600", "250"}, {"50", "150", "800"}},
		},
	}
}

func TestGolden(t *testing.T) {
	for name, c := range sampleCharts() {
		t.Run(name, func(t *testing.T) {
			s := Standalone(c)
			wellFormed(t, s)
			golden(t, name+".golden.svg", s)
			if again := Standalone(c); again != s {
				t.Error("second rendering differs from the first")
			}
		})
	}
}

// TestAccessible checks the root's role and label, the <title> first child
// and that every mark (bar, cell, path, circle) has a tooltip.
func TestAccessible(t *testing.T) {
	for name, c := range sampleCharts() {
		t.Run(name, func(t *testing.T) {
			s := c.SVG()
			if !strings.HasPrefix(s, "<svg ") || !strings.Contains(s[:strings.Index(s, ">")], `role="img" aria-label="`) {
				t.Errorf("root lacks role and aria-label: %.200s", s)
			}
			if i := strings.Index(s, ">"); !strings.HasPrefix(s[i+1:], "<title>") {
				t.Errorf("first child is not <title>: %.300s", s[i+1:])
			}
			if strings.Contains(s, "http") || strings.Contains(s, "<script") {
				t.Error("inline SVG refers to a URL or has a script")
			}
			d := xml.NewDecoder(strings.NewReader(s))
			var open []string
			for {
				tok, err := d.Token()
				if err != nil {
					break
				}
				switch x := tok.(type) {
				case xml.StartElement:
					open = append(open, x.Name.Local)
				case xml.EndElement:
					open = open[:len(open)-1]
				}
				// A mark must open a <title> as its first child.
				if se, ok := tok.(xml.StartElement); ok {
					cls := ""
					for _, a := range se.Attr {
						if a.Name.Local == "class" {
							cls = a.Value
						}
					}
					mark := cls == "bar" || cls == "cell" || cls == "series" || cls == "ref" || cls == "err" || se.Name.Local == "circle"
					if !mark {
						continue
					}
					next, err := d.Token()
					if err != nil {
						t.Fatal(err)
					}
					if st, ok := next.(xml.StartElement); !ok || st.Name.Local != "title" {
						t.Errorf("<%s class=%q> has no <title> tooltip", se.Name.Local, cls)
					} else {
						open = append(open, "title")
					}
				}
			}
		})
	}
}

// TestEscaping puts markup and control characters into every text field.
func TestEscaping(t *testing.T) {
	const evil = `<script>alert("x")</script> & 'q' \x00` + "\x01\xff"
	charts := map[string]Chart{
		"line": &LineChart{Title: evil, Desc: evil, X: Axis{Label: evil}, Y: Axis{Label: evil},
			Series: []Series{{Name: evil, Note: evil, X: []float64{0, 1}, Y: []float64{0, 1}, Markers: true, Color: `red"/><script>`}}, Diagonal: true, DiagonalLabel: evil},
		"bar": &BarChart{Title: evil, X: Axis{Label: evil}, Categories: []string{evil, "b"},
			Series: []BarSeries{{Name: evil, Values: []float64{1, 2}, Low: []float64{0.5, 1}, High: []float64{1.5, 3}}, {Name: "b", Values: []float64{1, math.NaN()}}}, Ref: &RefLine{Value: 1, Label: evil}},
		"hbar":        &HBarChart{Title: evil, Bars: []HBar{{Label: evil, Value: 1, Note: evil}}},
		"calibration": &CalibrationPlot{Title: evil, Name: evil, Bins: []CalBin{{0, 0.5, 0.2, 0.3, 10}}},
		"heatmap":     &Heatmap{Title: evil, RowTitle: evil, ColTitle: evil, Rows: []string{evil}, Cols: []string{evil}, Values: [][]float64{{1}}, Cells: [][]string{{evil}}},
	}
	for name, c := range charts {
		t.Run(name, func(t *testing.T) {
			s := c.SVG()
			_, titles, text := wellFormed(t, s)
			if strings.Contains(s, "<script") {
				t.Errorf("unescaped <script> in %s", s)
			}
			if !strings.Contains(s, "&lt;script&gt;") {
				t.Error("escaped label missing")
			}
			if len(titles) == 0 || !strings.HasPrefix(titles[0], `<script>alert("x")</script> & 'q'`) {
				t.Errorf("title text after decoding = %q, want the label back", titles)
			}
			if strings.ContainsAny(text, "\x00\x01") {
				t.Error("control characters survived")
			}
		})
	}
}

// TestNoData renders empty, nil and all-NaN inputs: no panic, well-formed,
// and the "no data" text.
func TestNoData(t *testing.T) {
	nan := math.NaN()
	inf := math.Inf(1)
	cases := map[string]Chart{
		"line/nil":       (*LineChart)(nil),
		"line/empty":     &LineChart{Title: "t"},
		"line/nan":       &LineChart{Series: []Series{{Name: "a", X: []float64{nan, 1}, Y: []float64{0, nan}}}},
		"line/inf":       &LineChart{Series: []Series{{X: []float64{inf}, Y: []float64{1}}}},
		"line/nopoints":  &LineChart{Series: []Series{{Name: "a"}}, Diagonal: true},
		"bar/nil":        (*BarChart)(nil),
		"bar/empty":      &BarChart{Series: []BarSeries{{Name: "a", Values: []float64{1}}}},
		"bar/nan":        &BarChart{Categories: []string{"a", "b"}, Series: []BarSeries{{Values: []float64{nan, inf}}}},
		"hbar/nil":       (*HBarChart)(nil),
		"hbar/empty":     &HBarChart{},
		"hbar/nan":       &HBarChart{Bars: []HBar{{Label: "a", Value: nan}}},
		"cal/nil":        (*CalibrationPlot)(nil),
		"cal/empty":      &CalibrationPlot{},
		"cal/nan":        &CalibrationPlot{Bins: []CalBin{{0, 0.1, nan, 0.1, 5}, {0.1, 0.2, 0.1, 0.1, 0}}},
		"heatmap/nil":    (*Heatmap)(nil),
		"heatmap/empty":  &Heatmap{},
		"heatmap/nocols": &Heatmap{Rows: []string{"a"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := c.SVG()
			_, _, text := wellFormed(t, s)
			if !strings.Contains(text, "no data") {
				t.Errorf("no \"no data\" text in %s", s)
			}
		})
	}
	// Partly missing data is drawn without the message; the missing part
	// is marked n/a or grey.
	partial := map[string]Chart{
		"line": &LineChart{Series: []Series{{Name: "a", X: []float64{0, 1, nan, 3, 4}, Y: []float64{0, 1, 2, 3, 4}}}},
		"bar":  &BarChart{Categories: []string{"a", "b"}, Series: []BarSeries{{Values: []float64{1}}}},
		"hbar": &HBarChart{Bars: []HBar{{Label: "a", Value: 1}, {Label: "b", Value: nan}}},
		"heat": &Heatmap{Rows: []string{"a", "b"}, Cols: []string{"x"}, Values: [][]float64{{1}}},
	}
	for name, c := range partial {
		t.Run("partial/"+name, func(t *testing.T) {
			s := c.SVG()
			_, _, text := wellFormed(t, s)
			if strings.Contains(text, "no data") && name != "heat" && name != "bar" && name != "hbar" {
				t.Errorf("partial data drawn as no data: %s", s)
			}
		})
	}
	// A NaN point splits a line into two subpaths: "M..L.. M..L..".
	s := partial["line"].SVG()
	i := strings.Index(s, `class="series" d="`)
	d := s[i+len(`class="series" d="`):]
	d = d[:strings.IndexByte(d, '"')]
	if got := strings.Count(d, "M"); got != 2 {
		t.Errorf("path %q has %d subpaths, want 2", d, got)
	}
}

// TestPositions checks where marks land against hand-computed pixels.
func TestPositions(t *testing.T) {
	// Line chart 640×400 with one unnamed series (no legend): the plot area
	// is x 64..624, y 40..352 (title 34 + 6; bottom 400 − 48). Fixed axes
	// 0..1, so (0.5, 0.25) is at x = 64 + 0.5·560 = 344, y = 352 − 0.25·312
	// = 274.
	c := &LineChart{X: Axis{Min: 0, Max: 1}, Y: Axis{Min: 0, Max: 1},
		Series: []Series{{X: []float64{0, 0.5}, Y: []float64{0, 0.25}}}}
	if s := c.SVG(); !strings.Contains(s, `d="M64.0 352.0L344.0 274.0"`) {
		t.Errorf("path not at the hand-computed pixels: %s", s)
	}
	// Bar chart: data 0..3 gives step niceStep(3, 5) = 1 (TestNiceStep), so
	// the y axis is 0..3; a bar of 1.5 over plot y 40..352 is 312/2 = 156 px
	// high, from y 352 − 156 = 196.
	b := &BarChart{Categories: []string{"a", "b"}, Series: []BarSeries{{Values: []float64{1.5, 3}}}}
	s := b.SVG()
	// Slot width (624−64)/2 = 280; bar width 0.8·280 = 224; first bar x =
	// 64 + 28 + 0.5 = 92.5, width 223.
	if !strings.Contains(s, `x="92.5" y="196.0" width="223.0" height="156.0"`) {
		t.Errorf("bar not at the hand-computed rectangle: %s", s)
	}
}

// TestNiceStep checks the tick steps against hand-worked values.
func TestNiceStep(t *testing.T) {
	cases := []struct {
		span float64
		n    int
		want float64
	}{
		{1, 5, 0.2}, {3, 5, 1}, {0.3, 5, 0.1}, {100, 5, 20}, {12, 5, 2.5}, {7, 5, 2}, {0.05, 5, 0.01}, {0, 5, 1},
	}
	for _, c := range cases {
		if got := niceStep(c.span, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("niceStep(%v, %d) = %v, want %v", c.span, c.n, got, c.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	cases := []struct {
		v       float64
		percent bool
		want    string
	}{
		{0.81234, false, "0.812"}, {3.14159, false, "3.14"}, {42.42, false, "42.4"}, {1234.5, false, "1234"},
		{12345.6, false, "12,346"}, {-0.5, false, "-0.500"}, {0, false, "0"}, {0.2345, true, "23.4%"},
		{-0.0000001, false, "0.000000"}, {math.NaN(), false, "no data"}, {math.Inf(-1), true, "no data"},
		{1e-9, false, "0.000000"}, {0.0004, true, "0.0%"},
	}
	for _, c := range cases {
		if got := FormatValue(c.v, c.percent); got != c.want {
			t.Errorf("FormatValue(%v, %v) = %q, want %q", c.v, c.percent, got, c.want)
		}
	}
}

func TestEsc(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a<b>&\"'", "a&lt;b&gt;&amp;&#34;&#39;"},
		{"tab\there", "tab here"},
		{"\x00\x1f", "\uFFFD\uFFFD"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"ok ünï ✓", "ok ünï ✓"},
		{"\uFFFE", "\uFFFD"},
	}
	for _, c := range cases {
		if got := esc(c.in); got != c.want {
			t.Errorf("esc(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHeatColor(t *testing.T) {
	// The ends and the middle are ColorBrewer Blues' #f7fbff, #6baed6 and
	// #08306b.
	for _, c := range []struct {
		t    float64
		want string
	}{{0, "#f7fbff"}, {0.5, "#6baed6"}, {1, "#08306b"}, {-1, "#f7fbff"}, {2, "#08306b"}} {
		if got, _ := heat(c.t); got != c.want {
			t.Errorf("heat(%v) = %s, want %s", c.t, got, c.want)
		}
	}
}

func FuzzCharts(f *testing.F) {
	f.Add("a", "<b>", 0.5, 1.0, -2.0)
	f.Add("\xff", "", math.NaN(), math.Inf(1), 0.0)
	f.Fuzz(func(t *testing.T, label, name string, a, b, c float64) {
		charts := []Chart{
			&LineChart{Title: label, Series: []Series{{Name: name, X: []float64{a, b, c}, Y: []float64{c, a, b}, Markers: true}}, Diagonal: true},
			&BarChart{Title: label, Categories: []string{label, name}, Series: []BarSeries{{Name: name, Values: []float64{a, b}, Low: []float64{c}, High: []float64{b}}}},
			&HBarChart{Title: label, Bars: []HBar{{Label: label, Value: a, Note: name}, {Label: name, Value: b}}},
			&CalibrationPlot{Title: label, Bins: []CalBin{{a, b, a, c, 3}, {b, c, b, a, 1}}},
			&Heatmap{Title: label, Rows: []string{label}, Cols: []string{name, label}, Values: [][]float64{{a, b}}},
		}
		for _, ch := range charts {
			s := ch.SVG()
			d := xml.NewDecoder(bytes.NewReader([]byte(s)))
			for {
				_, err := d.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%T: not well-formed: %v\n%s", ch, err, s)
				}
			}
			if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
				if !strings.Contains(label+name, "NaN") && !strings.Contains(label+name, "Inf") {
					t.Fatalf("%T: NaN or Inf in output: %s", ch, s)
				}
			}
		}
	})
}

// BenchmarkLineChart draws a ROC-sized chart: three series of 200 points.
func BenchmarkLineChart(b *testing.B) {
	c := &LineChart{Title: "ROC", X: Axis{Min: 0, Max: 1}, Y: Axis{Min: 0, Max: 1}, Diagonal: true}
	for k := range 3 {
		s := Series{Name: "s"}
		for i := range 200 {
			x := float64(i) / 199
			s.X = append(s.X, x)
			s.Y = append(s.Y, math.Pow(x, 1/float64(k+2)))
		}
		c.Series = append(c.Series, s)
	}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = len(c.SVG())
	}
	b.ReportMetric(float64(n), "bytes/chart")
}

// BenchmarkHeatmap draws an 11 × 11 transition matrix (the RFM segments).
func BenchmarkHeatmap(b *testing.B) {
	h := &Heatmap{Title: "t"}
	for i := range 11 {
		h.Rows = append(h.Rows, "segment "+string(rune('A'+i)))
		row := make([]float64, 11)
		for j := range row {
			row[j] = float64((i*7 + j*3) % 11)
		}
		h.Values = append(h.Values, row)
	}
	h.Cols = h.Rows
	var n int
	b.ReportAllocs()
	for b.Loop() {
		n = len(h.SVG())
	}
	b.ReportMetric(float64(n), "bytes/chart")
}
