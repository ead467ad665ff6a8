package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lapse-dev/lapse/model"
)

// scoreColumns are the columns of lapse score's CSV output, in order.
var scoreColumns = []string{
	"user_id", "churn_probability", "risk_band", "purchase_probability", "segment",
	"rfm_segment", "lifecycle_stage", "usage_tier", "p_alive", "expected_purchases", "clv", "top_reasons",
}

// scoreRow is one line of lapse score's JSON Lines output.
type scoreRow struct {
	UserID              string   `json:"user_id"`
	ChurnProbability    float64  `json:"churn_probability"`
	RiskBand            string   `json:"risk_band"`
	PurchaseProbability *float64 `json:"purchase_probability"`
	Segment             string   `json:"segment"`
	RFMSegment          string   `json:"rfm_segment"`
	LifecycleStage      string   `json:"lifecycle_stage"`
	UsageTier           string   `json:"usage_tier"`
	// PAlive, ExpectedPurchases (purchase days expected in the model's
	// horizon) and CLV are null when unavailable.
	PAlive            *float64 `json:"p_alive"`
	ExpectedPurchases *float64 `json:"expected_purchases"`
	CLV               *float64 `json:"clv"`
	TopReasons        []string `json:"top_reasons"`
	// Reasons are the drivers with feature, value and contribution.
	Reasons []model.Reason `json:"reasons"`
}

// scoreWriter writes predictions as CSV or JSON Lines.
type scoreWriter struct {
	jsonl bool
	csv   *csv.Writer
	enc   *json.Encoder
	rec   []string
}

// scoreFormat returns "csv" or "jsonl" for an output path and an explicit
// format ("" = by extension: .jsonl, .jsonl.gz, .ndjson are JSON Lines,
// everything else CSV).
func scoreFormat(path, format string) (string, error) {
	switch format {
	case "csv", "jsonl":
		return format, nil
	case "", "auto":
	default:
		return "", usagef("--out-format %q: want csv or jsonl", format)
	}
	p := strings.TrimSuffix(path, ".gz")
	if strings.HasSuffix(p, ".jsonl") || strings.HasSuffix(p, ".ndjson") {
		return "jsonl", nil
	}
	return "csv", nil
}

// newScoreWriter starts an output in format ("csv" writes the header).
func newScoreWriter(w io.Writer, format string) (*scoreWriter, error) {
	s := &scoreWriter{jsonl: format == "jsonl"}
	if s.jsonl {
		s.enc = json.NewEncoder(w)
		return s, nil
	}
	s.csv = csv.NewWriter(w)
	if err := s.csv.Write(scoreColumns); err != nil {
		return nil, fmt.Errorf("write scores header: %w", err)
	}
	return s, nil
}

// reasonTexts returns the reasons' texts.
func reasonTexts(rs []model.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Text
	}
	return out
}

// Write writes one user's prediction. In CSV, numbers use the shortest
// exact decimal form, a missing purchase probability or customer value is
// empty and the reasons are joined by "; ".
func (s *scoreWriter) Write(user string, p *model.Prediction) error {
	if s.jsonl {
		row := scoreRow{
			UserID: user, ChurnProbability: p.ChurnProbability, RiskBand: p.RiskBand,
			PurchaseProbability: p.PurchaseProbability, Segment: p.Segment, RFMSegment: p.RFMSegment,
			LifecycleStage: p.LifecycleStage, UsageTier: p.UsageTier,
			PAlive: p.PAlive, ExpectedPurchases: p.ExpectedPurchases, CLV: p.CLV,
			TopReasons: reasonTexts(p.Reasons), Reasons: p.Reasons,
		}
		if row.Reasons == nil {
			row.Reasons = []model.Reason{}
		}
		if err := s.enc.Encode(&row); err != nil {
			return fmt.Errorf("write score of %q: %w", user, err)
		}
		return nil
	}
	s.rec = append(s.rec[:0], user, strconv.FormatFloat(p.ChurnProbability, 'g', -1, 64), p.RiskBand, csvFloat(p.PurchaseProbability),
		p.Segment, p.RFMSegment, p.LifecycleStage, p.UsageTier, csvFloat(p.PAlive), csvFloat(p.ExpectedPurchases), csvFloat(p.CLV),
		strings.Join(reasonTexts(p.Reasons), "; "))
	if err := s.csv.Write(s.rec); err != nil {
		return fmt.Errorf("write score of %q: %w", user, err)
	}
	return nil
}

// csvFloat formats an optional number for CSV: "" for nil.
func csvFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

// Flush flushes a CSV writer and reports its error.
func (s *scoreWriter) Flush() error {
	if s.csv == nil {
		return nil
	}
	s.csv.Flush()
	if err := s.csv.Error(); err != nil {
		return fmt.Errorf("write scores: %w", err)
	}
	return nil
}
