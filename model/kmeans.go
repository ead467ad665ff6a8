package model

import (
	"fmt"
	"math"
)

// KMeans is a fitted k-means clustering as plain data: centroids in the
// transformed (standardised) feature space, with optional readable names.
// A point belongs to the centroid nearest in Euclidean distance; ties go to
// the lowest index.
type KMeans struct {
	// Centroids has one row per cluster, each of the same length.
	Centroids [][]float64 `json:"centroids"`
	// Names optionally gives each cluster a readable name (same length as
	// Centroids), e.g. "power users".
	Names []string `json:"names,omitempty"`
}

// K returns the number of clusters.
func (m *KMeans) K() int { return len(m.Centroids) }

// Assign returns the index of the centroid nearest to x. It panics if x has
// the wrong length or the model has no centroids (programming errors).
func (m *KMeans) Assign(x []float64) int {
	best, bestD := -1, math.Inf(1)
	for c := range m.Centroids {
		if d := m.dist2(c, x); d < bestD || best < 0 {
			best, bestD = c, d
		}
	}
	if best < 0 {
		panic("model: k-means has no centroids")
	}
	return best
}

// Distances writes the Euclidean distance from x to every centroid into dst
// (grown or allocated as needed) and returns it.
func (m *KMeans) Distances(dst, x []float64) []float64 {
	if cap(dst) < len(m.Centroids) {
		dst = make([]float64, len(m.Centroids))
	}
	dst = dst[:len(m.Centroids)]
	for c := range m.Centroids {
		dst[c] = math.Sqrt(m.dist2(c, x))
	}
	return dst
}

// dist2 is the squared Euclidean distance from x to centroid c.
func (m *KMeans) dist2(c int, x []float64) float64 {
	cen := m.Centroids[c]
	if len(cen) != len(x) {
		panic(fmt.Sprintf("model: k-means got %d values, centroid %d has %d", len(x), c, len(cen)))
	}
	var d float64
	for j, v := range cen {
		e := x[j] - v
		d += e * e
	}
	return d
}
