package training

import (
	"context"
	"errors"
	"fmt"

	"github.com/lapse-dev/lapse/model"
)

// This file is the pipeline's side of the segments (the rules and health
// themselves are in segments.go): which rows the rules are derived from,
// and which snapshots and probabilities the health is measured on.

// rfmRules derives the RFM quintile edges from rows (see DeriveRFM).
func (tr *trainer) rfmRules(r *rowSet) model.RFMRules { return DeriveRFM(tr.names, &r.x) }

// segmentRules derives the RFM, lifecycle and tier rules and fits the
// behavioural clusters on the T1 rows: the latest snapshot whose churn is
// known, all of it before T1. Too few users to cluster leaves the clusters
// out, with a note in the report.
func (tr *trainer) segmentRules(ctx context.Context, m *model.Model, r *rowSet) error {
	m.RFM = DeriveRFM(tr.names, &r.x)
	m.Lifecycle = DeriveLifecycle(tr.names, &r.x, int(tr.cfg.Horizon.Hours()/24))
	m.Tiers = DeriveTiers(tr.names, &r.x)
	tr.progress("fitting behavioural clusters on %d users", r.x.Rows)
	c, rep, err := FitClusters(ctx, tr.names, &r.x, &ClusterOptions{K: tr.cfg.K, Seed: tr.cfg.Seed, Threads: tr.cfg.Workers})
	switch {
	case errors.Is(err, ErrTooFewToCluster):
		tr.note("clusters", "behavioural clusters left out: %v", err)
		return nil
	case err != nil:
		return fmt.Errorf("training: clusters: %w", err)
	}
	m.Clusters = c
	tr.report().Checks = append(tr.report().Checks, Check{Name: "clusters", Passed: true,
		Value: fmt.Sprintf("k = %d (%s) on %d users", rep.K, rep.Method, rep.Users), Need: "k in 2..10"})
	return nil
}

// segmentHealth segments the users of every snapshot with m's rules (risk
// bands from evalClf, the model evaluated out of time, whose T1
// probabilities are ootProb) and measures the families on T1: sizes,
// observed churn, stability and transitions across the snapshots, overlaps.
func (tr *trainer) segmentHealth(m *model.Model, evalClf *model.Classifier, ootProb []float64) (Segments, error) {
	rules := SegmentRules{Clusters: m.Clusters, RFM: m.RFM, Lifecycle: m.Lifecycle, Tiers: m.Tiers, Bands: m.Bands}
	segs := make([]*Segmentation, len(tr.snaps))
	for k, s := range tr.snaps {
		vs := s.ds.Vectors
		p := ootProb
		if k != tr.oot {
			p = tr.predictVectors(evalClf, vs)
		}
		users := make([]string, len(vs))
		for i, v := range vs {
			users[i] = v.UserID
		}
		seg, err := segmentRows(tr.names, len(vs), func(i int) []float64 { return vs[i].Values }, users, s.cutoff, rules, p)
		if err != nil {
			return Segments{}, err
		}
		segs[k] = seg
	}
	h, err := SegmentHealthOf(segs, tr.snaps[tr.oot].ds.Churn, ootProb)
	if err != nil {
		return Segments{}, err
	}
	var profiles []model.ClusterProfile
	if m.Clusters != nil {
		profiles = m.Clusters.Profiles
	}
	return h.ReportSegments(profiles), nil
}
