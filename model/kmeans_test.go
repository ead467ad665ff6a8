package model

import (
	"math"
	"testing"
)

func TestKMeansAssign(t *testing.T) {
	// Hand computation with centroids (0,0), (4,0), (0,3).
	m := &KMeans{Centroids: [][]float64{{0, 0}, {4, 0}, {0, 3}}, Names: []string{"a", "b", "c"}}
	cases := []struct {
		name  string
		x     []float64
		want  int
		dists []float64
	}{
		{"NearOrigin", []float64{1, 1}, 0, []float64{math.Sqrt2, math.Sqrt(10), math.Sqrt(5)}},
		{"NearB", []float64{4, 1}, 1, []float64{math.Sqrt(17), 1, math.Sqrt(20)}},
		{"NearC", []float64{0, 2.5}, 2, []float64{2.5, math.Sqrt(22.25), 0.5}},
		// (2,0) is 2 from both (0,0) and (4,0): the lower index wins.
		{"TieLowestIndex", []float64{2, 0}, 0, []float64{2, 2, math.Sqrt(13)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := m.Assign(c.x); got != c.want {
				t.Errorf("Assign(%v) = %d, want %d", c.x, got, c.want)
			}
			d := m.Distances(nil, c.x)
			for q := range d {
				if math.Abs(d[q]-c.dists[q]) > 1e-12 {
					t.Errorf("distance to %d = %v, want %v", q, d[q], c.dists[q])
				}
			}
		})
	}
	if m.K() != 3 {
		t.Errorf("K = %d", m.K())
	}
}
