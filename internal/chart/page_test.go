package chart

import (
	"bytes"
	"strings"
	"testing"
)

func samplePage() *Page {
	c := sampleCharts()
	return &Page{
		Title:    "Training report <v1>",
		Subtitle: "model 2025-12-01-abc & co",
		Sections: []Section{
			{Title: "Headline", Blocks: []Block{
				Headline{Lines: []string{"churn model: AUC 0.81 out-of-time vs 0.71 for recency alone", "top decile catches 3.1× the base rate"}},
				Text("A paragraph with <b>markup</b> that must stay text."),
			}},
			{Title: "Curves", Blocks: []Block{
				Figures{{Chart: c["line_roc"], Caption: "ROC"}, {Chart: c["calibration"]}},
				Figure{Chart: c["bar_lift"], Caption: "lift > 1 means better than random"},
			}},
			{Title: "Tables", Blocks: []Block{
				Table{Caption: "deciles", Header: []string{"decile", "users", "rate", "lift", "note"},
					Rows: [][]string{{"1", "12,840", "23.5%", "3.1×", "top"}, {"2", "1000", "−0.5", "+0.04", "<i>"}}},
				List{"passed: min users", "failed: <script>"},
				Headline{Lines: []string{"model does not beat recency"}, Warn: true},
				nil,
			}},
		},
		Footer: "lapse",
	}
}

func TestPageGolden(t *testing.T) {
	p := samplePage()
	s := p.HTML()
	golden(t, "page.golden.html", s)
	var buf bytes.Buffer
	if err := p.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != s {
		t.Error("WriteHTML and HTML differ, or rendering is not deterministic")
	}
}

func TestPageSelfContained(t *testing.T) {
	s := samplePage().HTML()
	for _, bad := range []string{"http://", "https://", "src=", "<script", "<link", "@import", "url("} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"<title>Training report &lt;v1&gt;</title>",
		"model 2025-12-01-abc &amp; co",
		"with &lt;b&gt;markup&lt;/b&gt; that",
		"failed: &lt;script&gt;",
		`<td class="num">12,840</td>`, `<td class="num">23.5%</td>`, `<td class="num">3.1×</td>`,
		`<td class="num">+0.04</td>`, `<td class="num">−0.5</td>`, `<td>top</td>`, `<td>&lt;i&gt;</td>`,
		`<div class="headline warn" role="note">`, `<a href="#s2">Curves</a>`, `<section id="s3">`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(s, "<svg "); n != 3 {
		t.Errorf("page has %d inline SVGs, want 3", n)
	}
	// Each inline SVG is well-formed on its own.
	for rest := s; ; {
		i := strings.Index(rest, "<svg ")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>") + i + len("</svg>")
		wellFormed(t, rest[i:j])
		rest = rest[j:]
	}
}

func TestNumeric(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"0.812", true}, {"12,840", true}, {"23.5%", true}, {"3.1×", true}, {"+0.04", true}, {"−0.5", true},
		{"-2", true}, {"4 pp", true}, {"", false}, {"top", false}, {"2025-11-01", false}, {"%", false}, {"1.2.3", false},
	}
	for _, c := range cases {
		if got := numeric(c.in); got != c.want {
			t.Errorf("numeric(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
