package chart

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
)

// Page is a self-contained HTML report: a title, sections of text, tables
// and charts, and inline CSS. It has no script and refers to nothing
// outside itself (links are only to its own sections).
type Page struct {
	// Title is the page's <title> and heading.
	Title string
	// Subtitle is a line under the heading, e.g. the model version.
	Subtitle string
	// Sections follow in order; with more than two, a contents list links
	// to them.
	Sections []Section
	// Footer is a line at the end of the page.
	Footer string
}

// Section is a titled part of a Page.
type Section struct {
	// Title is the section heading.
	Title string
	// Blocks are the section's content, in order.
	Blocks []Block
}

// Block is a piece of page content: Text, Headline, Table, Figure, Figures
// or List.
type Block interface {
	writeHTML(b *strings.Builder)
}

// Text is a paragraph of plain text.
type Text string

// List is a bulleted list of plain-text items.
type List []string

// Headline is a highlighted box with the main findings: a bold first line
// and the others below it.
type Headline struct {
	// Lines are the findings; the first is the main one.
	Lines []string
	// Warn colours the box as a warning (e.g. the model does not beat its
	// baseline).
	Warn bool
}

// Table is a table of plain-text cells. Cells that read as numbers
// ("0.812", "12,840", "23.5%", "3.1×", "+0.04") are right-aligned.
type Table struct {
	// Caption is shown above the table.
	Caption string
	// Header names the columns.
	Header []string
	// Rows are the cells, row by row.
	Rows [][]string
}

// Figure is one chart with an optional caption.
type Figure struct {
	// Chart is drawn inline.
	Chart Chart
	// Caption is shown under the chart.
	Caption string
}

// Figures are charts laid out side by side where the page is wide enough.
type Figures []Figure

const pageCSS = `:root{color-scheme:light}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fafafa;margin:0}
main{max-width:1340px;margin:0 auto;padding:1.5rem 2rem 3rem}
h1{font-size:1.7rem;margin:.2rem 0}
h2{font-size:1.25rem;margin:2.2rem 0 .6rem;padding-bottom:.2rem;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 1rem}
nav ol{columns:3;margin:.5rem 0 1rem;padding-left:1.4rem;color:#555}
a{color:#0b5394}
.headline{background:#eef5fc;border-left:5px solid #0072B2;padding:.8rem 1.1rem;margin:1rem 0;border-radius:4px}
.headline.warn{background:#fff4e5;border-left-color:#D55E00}
.headline p{margin:.25rem 0}.headline p:first-child{font-size:1.15rem;font-weight:600}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;background:#fff;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;vertical-align:top;margin:.5rem 1rem 1rem 0;background:#fff;border:1px solid #e3e3e3;border-radius:4px;padding:.4rem;max-width:100%}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#555;max-width:640px;padding:.2rem .3rem}
footer{margin-top:2.5rem;color:#777;font-size:.85rem}
`

// WriteHTML writes the page.
func (p *Page) WriteHTML(w io.Writer) error {
	if _, err := io.WriteString(w, p.HTML()); err != nil {
		return fmt.Errorf("chart: write page: %w", err)
	}
	return nil
}

// HTML returns the page as a complete HTML document.
func (p *Page) HTML() string {
	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", e(clean(p.Title)), pageCSS)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", e(clean(p.Title)))
	if p.Subtitle != "" {
		fmt.Fprintf(&b, "<p class=\"sub\">%s</p>\n", e(clean(p.Subtitle)))
	}
	if len(p.Sections) > 2 {
		b.WriteString("<nav aria-label=\"contents\"><ol>")
		for i, s := range p.Sections {
			fmt.Fprintf(&b, "<li><a href=\"#s%d\">%s</a></li>", i+1, e(clean(s.Title)))
		}
		b.WriteString("</ol></nav>\n")
	}
	for i, s := range p.Sections {
		fmt.Fprintf(&b, "<section id=\"s%d\">\n", i+1)
		if s.Title != "" {
			fmt.Fprintf(&b, "<h2>%s</h2>\n", e(clean(s.Title)))
		}
		for _, bl := range s.Blocks {
			if bl != nil {
				bl.writeHTML(&b)
			}
		}
		b.WriteString("</section>\n")
	}
	if p.Footer != "" {
		fmt.Fprintf(&b, "<footer>%s</footer>\n", e(clean(p.Footer)))
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.String()
}

// clean replaces characters that are not allowed in HTML text (controls,
// invalid UTF-8) as esc does, keeping the rest for html.EscapeString.
func clean(s string) string {
	return strings.ToValidUTF8(strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f:
			return '\uFFFD'
		}
		return r
	}, s), "\uFFFD")
}

func (t Text) writeHTML(b *strings.Builder) {
	fmt.Fprintf(b, "<p>%s</p>\n", html.EscapeString(clean(string(t))))
}

func (l List) writeHTML(b *strings.Builder) {
	b.WriteString("<ul>")
	for _, it := range l {
		fmt.Fprintf(b, "<li>%s</li>", html.EscapeString(clean(it)))
	}
	b.WriteString("</ul>\n")
}

func (h Headline) writeHTML(b *strings.Builder) {
	class := "headline"
	if h.Warn {
		class += " warn"
	}
	fmt.Fprintf(b, "<div class=\"%s\" role=\"note\">", class)
	for _, l := range h.Lines {
		fmt.Fprintf(b, "<p>%s</p>", html.EscapeString(clean(l)))
	}
	b.WriteString("</div>\n")
}

func (t Table) writeHTML(b *strings.Builder) {
	e := html.EscapeString
	b.WriteString("<table>")
	if t.Caption != "" {
		fmt.Fprintf(b, "<caption>%s</caption>", e(clean(t.Caption)))
	}
	if len(t.Header) > 0 {
		b.WriteString("<thead><tr>")
		for _, h := range t.Header {
			fmt.Fprintf(b, "<th scope=\"col\">%s</th>", e(clean(h)))
		}
		b.WriteString("</tr></thead>")
	}
	b.WriteString("<tbody>")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for _, c := range r {
			if numeric(c) {
				fmt.Fprintf(b, "<td class=\"num\">%s</td>", e(clean(c)))
			} else {
				fmt.Fprintf(b, "<td>%s</td>", e(clean(c)))
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>\n")
}

// numeric reports whether a cell reads as a number, perhaps with a sign,
// thousands separators and a %, × or x suffix.
func numeric(s string) bool {
	s = strings.TrimSpace(s)
	for _, suf := range []string{"%", "×", "x", " pp"} {
		s = strings.TrimSuffix(s, suf)
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+"), "−")
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func (f Figure) writeHTML(b *strings.Builder) {
	b.WriteString("<figure>")
	if f.Chart != nil {
		b.WriteString(f.Chart.SVG())
	}
	if f.Caption != "" {
		fmt.Fprintf(b, "<figcaption>%s</figcaption>", html.EscapeString(clean(f.Caption)))
	}
	b.WriteString("</figure>\n")
}

func (fs Figures) writeHTML(b *strings.Builder) {
	b.WriteString("<div class=\"figures\">\n")
	for _, f := range fs {
		f.writeHTML(b)
	}
	b.WriteString("</div>\n")
}
