package training

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// blobs draws n points around k centres in d dimensions (seeded): each
// centre coordinate is N(0, 12²), each point is its centre (row i belongs
// to blob i mod k) plus standard normal noise. It returns the points, the
// true blob of each row and the centres.
func blobs(n, k, d int, seed uint64) (*Matrix, []int, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = 12 * rng.NormFloat64()
		}
	}
	x := NewMatrix(n, d)
	truth := make([]int, n)
	for i := range n {
		c := i % k
		truth[i] = c
		for j, v := range centres[c] {
			x.Data[i*d+j] = v + rng.NormFloat64()
		}
	}
	return &x, truth, centres
}

// adjustedRand is the adjusted Rand index of Hubert and Arabie (1985):
// (Σ C(n_ij,2) − E) / (½(Σ C(a_i,2) + Σ C(b_j,2)) − E), with
// E = Σ C(a_i,2)·Σ C(b_j,2) / C(n,2).
func adjustedRand(a, b []int) float64 {
	c2 := func(v int) float64 { return float64(v) * float64(v-1) / 2 }
	type pair struct{ a, b int }
	nij := map[pair]int{}
	ai := map[int]int{}
	bj := map[int]int{}
	for i := range a {
		nij[pair{a[i], b[i]}]++
		ai[a[i]]++
		bj[b[i]]++
	}
	var index, sa, sb float64
	for _, v := range nij {
		index += c2(v)
	}
	for _, v := range ai {
		sa += c2(v)
	}
	for _, v := range bj {
		sb += c2(v)
	}
	expected := sa * sb / c2(len(a))
	return (index - expected) / ((sa+sb)/2 - expected)
}

func TestAdjustedRand(t *testing.T) {
	// References: scikit-learn 1.2.1 adjusted_rand_score; the first is also
	// its documentation example.
	cases := []struct {
		name string
		a, b []int
		want float64
	}{
		{"SklearnDocExample", []int{0, 0, 1, 2}, []int{0, 0, 1, 1}, 0.5714285714285714},
		{"Relabelled", []int{0, 0, 1, 1}, []int{1, 1, 0, 0}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := adjustedRand(c.a, c.b); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("ARI = %v, want %v", got, c.want)
			}
		})
	}
}

// TestFitKMeansBlobs checks that k-means recovers seeded, well-separated
// blobs (ARI >= 0.95) and that each centroid is the mean of its true blob,
// computed independently from the generating labels.
func TestFitKMeansBlobs(t *testing.T) {
	cases := []struct{ n, k, d int }{
		{4000, 4, 5},
		{6000, 6, 3},
		{3000, 2, 10},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("K%dD%d", c.k, c.d), func(t *testing.T) {
			x, truth, _ := blobs(c.n, c.k, c.d, uint64(c.k))
			fit, err := FitKMeans(t.Context(), x, c.k, &KMeansOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if ari := adjustedRand(truth, fit.Labels); ari < 0.95 {
				t.Errorf("k=%d: ARI %.4f, want >= 0.95", c.k, ari)
			}
			// Mean of each true blob; match it to the nearest centroid.
			mean := make([][]float64, c.k)
			cnt := make([]int, c.k)
			for q := range mean {
				mean[q] = make([]float64, c.d)
			}
			for i, l := range truth {
				cnt[l]++
				for j, v := range x.Row(i) {
					mean[l][j] += v
				}
			}
			for q := range mean {
				for j := range mean[q] {
					mean[q][j] /= float64(cnt[q])
				}
				got := fit.Model.Centroids[fit.Model.Assign(mean[q])]
				for j := range got {
					if math.Abs(got[j]-mean[q][j]) > 1e-9 {
						t.Errorf("blob %d: centroid %v, blob mean %v", q, got, mean[q])
						break
					}
				}
			}
			// Labels agree with Assign, and Inertia with the labels.
			var inertia float64
			for i := range x.Rows {
				l := fit.Model.Assign(x.Row(i))
				if l != fit.Labels[i] {
					t.Fatalf("row %d: label %d, Assign %d", i, fit.Labels[i], l)
				}
				dd := fit.Model.Distances(nil, x.Row(i))
				inertia += dd[l] * dd[l]
			}
			if math.Abs(inertia-fit.Inertia) > 1e-9*inertia {
				t.Errorf("inertia %v, recomputed %v", fit.Inertia, inertia)
			}
		})
	}
}

// TestFitKMeansDeterministic checks that the same seed gives bit-identical
// centroids whatever the number of threads.
func TestFitKMeansDeterministic(t *testing.T) {
	trSkipUnderRace(t)
	// Uniform data has no clusters, so the answer depends on every random
	// choice of the initialisation.
	rng := rand.New(rand.NewPCG(7, 8))
	u := NewMatrix(20_000, 4)
	for i := range u.Data {
		u.Data[i] = rng.Float64()
	}
	x := &u
	var first *KMeansFit
	for _, threads := range []int{1, 2, 3} {
		fit, err := FitKMeans(t.Context(), x, 5, &KMeansOptions{Seed: 42, Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = fit
			continue
		}
		for q := range fit.Model.Centroids {
			if !slices.Equal(fit.Model.Centroids[q], first.Model.Centroids[q]) {
				t.Errorf("threads=%d: centroid %d = %v, first %v", threads, q, fit.Model.Centroids[q], first.Model.Centroids[q])
			}
		}
		if fit.Inertia != first.Inertia || !slices.Equal(fit.Labels, first.Labels) {
			t.Errorf("threads=%d: inertia %v labels differ from first run (%v)", threads, fit.Inertia, first.Inertia)
		}
	}
}

// TestKMeansEmptyCluster starts Lloyd with a centre far from all data: that
// cluster is empty after the first assignment and must be moved to the row
// farthest from its centroid, ending with k non-empty clusters, the two
// true blob centres in different clusters.
func TestKMeansEmptyCluster(t *testing.T) {
	x, truth, centres := blobs(2000, 2, 2, 3)
	c := append(append(slices.Clone(centres[0]), centres[1]...), 1000, 1000)
	fit, err := kmLloyd(t.Context(), x, c, 3, 300, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	size := make([]int, 3)
	for _, l := range fit.Labels {
		size[l]++
	}
	for q, s := range size {
		if s == 0 {
			t.Errorf("cluster %d is empty: sizes %v", q, size)
		}
	}
	for q, cen := range fit.Model.Centroids {
		if math.Abs(cen[0]) > 100 || math.Abs(cen[1]) > 100 {
			t.Errorf("centroid %d = %v still far from the data", q, cen)
		}
	}
	if a, b := fit.Model.Assign(centres[0]), fit.Model.Assign(centres[1]); a == b {
		t.Errorf("both blob centres in cluster %d", a)
	}
	// No cluster mixes the two blobs.
	mixed := map[int]map[int]bool{}
	for i, l := range fit.Labels {
		if mixed[l] == nil {
			mixed[l] = map[int]bool{}
		}
		mixed[l][truth[i]] = true
	}
	for q, m := range mixed {
		if len(m) > 1 {
			t.Errorf("cluster %d mixes blobs", q)
		}
	}
}

func TestSilhouette(t *testing.T) {
	// References: scikit-learn 1.2.1 silhouette_score on 60 points
	// x_i = ((37i mod 101)/10, (53i mod 97)/10) with three labellings.
	x := NewMatrix(60, 2)
	arbitrary := make([]int, 60)
	byRegion := make([]int, 60)
	for i := range 60 {
		r := x.Row(i)
		r[0] = float64((i*37)%101) / 10
		r[1] = float64((i*53)%97) / 10
		arbitrary[i] = i % 3
		switch {
		case r[0] < 5:
			byRegion[i] = 0
		case r[1] < 5:
			byRegion[i] = 1
		default:
			byRegion[i] = 2
		}
	}
	singleton := slices.Clone(byRegion)
	singleton[0] = 3
	cases := []struct {
		name   string
		labels []int
		want   float64
	}{
		{"Arbitrary", arbitrary, -0.055485450865600305},
		{"ByRegion", byRegion, 0.34118944872934065},
		{"WithSingleton", singleton, 0.21628779578210738},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Silhouette(&x, c.labels); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("Silhouette = %.17g, want %.17g (sklearn)", got, c.want)
			}
		})
	}
}

// TestChooseK checks that the silhouette rule finds the true number of
// clear blobs, reproducibly.
func TestChooseK(t *testing.T) {
	trSkipUnderRace(t)
	for _, k := range []int{3, 5} {
		t.Run(fmt.Sprintf("K%d", k), func(t *testing.T) {
			x, _, _ := blobs(5000, k, 4, uint64(10+k))
			opts := &ChooseKOptions{MaxK: 8, SilhouetteRows: 1500, KMeans: &KMeansOptions{Seed: 9, Restarts: 2}}
			got, scores, err := ChooseK(t.Context(), x, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got != k {
				t.Errorf("ChooseK = %d, want %d; scores %+v", got, k, scores)
			}
			if len(scores) != 7 || scores[0].K != 2 || scores[6].K != 8 {
				t.Errorf("scores cover k %d..%d (%d), want 2..8", scores[0].K, scores[len(scores)-1].K, len(scores))
			}
			again, scores2, err := ChooseK(t.Context(), x, opts)
			if err != nil || again != got || !slices.Equal(scores, scores2) {
				t.Errorf("second run: %d %v %v, first %d %v", again, scores2, err, got, scores)
			}
		})
	}
}

func TestKMeansErrors(t *testing.T) {
	x, _, _ := blobs(10, 2, 2, 1)
	nan := NewMatrix(3, 1)
	nan.Data[2] = math.Inf(1)
	cases := []struct {
		name string
		x    *Matrix
		k    int
		want error
	}{
		{"Nil", nil, 2, ErrShape},
		{"Empty", &Matrix{}, 2, ErrEmpty},
		{"KZero", x, 0, ErrShape},
		{"KTooBig", x, 11, ErrShape},
		{"Inf", &nan, 2, ErrNotFinite},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := FitKMeans(t.Context(), c.x, c.k, nil); !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
	if _, _, err := ChooseK(t.Context(), x, &ChooseKOptions{MinK: 2, MaxK: 10}); !errors.Is(err, ErrShape) {
		t.Errorf("ChooseK with k up to n: error %v, want ErrShape", err)
	}
}
