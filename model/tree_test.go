package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// leafNode and splitNode build nodes for hand-written trees.
func leafNode(value, cover float64) Node {
	return Node{Feature: -1, Left: -1, Right: -1, Value: value, Cover: cover}
}

func splitNode(feature int, threshold float64, left, right int) Node {
	return Node{Feature: feature, Threshold: threshold, Left: left, Right: right}
}

// finish fills internal node covers and values bottom-up (cover = sum of the
// children's, value = cover-weighted mean), the invariant the fitter keeps.
func finish(nodes []Node) {
	for k := len(nodes) - 1; k >= 0; k-- {
		n := &nodes[k]
		if n.IsLeaf() {
			continue
		}
		l, r := nodes[n.Left], nodes[n.Right]
		n.Cover = l.Cover + r.Cover
		n.Value = (l.Value*l.Cover + r.Value*r.Cover) / n.Cover
	}
}

// handTrees is the ensemble worked by hand in the tests below:
//
//	tree 0: x0 <= 0 ? leaf 1 (cover 2) : (x1 <= 0 ? leaf 3 (cover 1) : leaf 5 (cover 1))
//	tree 1: x2 <= 10 ? leaf -1 (cover 3) : leaf 2 (cover 1)
func handTrees() *Trees {
	t0 := []Node{
		splitNode(0, 0, 1, 2),
		leafNode(1, 2),
		splitNode(1, 0, 3, 4),
		leafNode(3, 1),
		leafNode(5, 1),
	}
	t1 := []Node{
		splitNode(2, 10, 1, 2),
		leafNode(-1, 3),
		leafNode(2, 1),
	}
	finish(t0)
	finish(t1)
	t0[0].Gain, t0[2].Gain, t1[0].Gain = 3, 1, 4
	return &Trees{Format: TreesFormat, NumFeatures: 3, BaseScore: -0.5, LearningRate: 0.1,
		Trees: []Tree{{Nodes: t0}, {Nodes: t1}}}
}

func TestTreesHandComputed(t *testing.T) {
	tr := handTrees()
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	// Bias by hand: -0.5 + (2·1 + 3 + 5)/4 + (3·(-1) + 2)/4 = -0.5 + 2.5 - 0.25 = 1.75.
	const tol = 1e-12
	if got := tr.Bias(); math.Abs(got-1.75) > tol {
		t.Fatalf("Bias() = %v, want 1.75", got)
	}
	cases := []struct {
		name   string
		x      []float64
		margin float64
		// shap by hand from the Shapley definition with cover-weighted
		// conditional expectations. Tree 0 at x0>0, x1>0: v{} = 2.5,
		// v{0} = 4, v{1} = 0.5·1 + 0.5·5 = 3, v{0,1} = 5, so
		// φ0 = ((4-2.5) + (5-3))/2 = 1.75 and φ1 = ((3-2.5) + (5-4))/2 = 0.75.
		// Tree 1 is a stump: φ2 = leaf - (-0.25).
		shap []float64
		// saabas by hand: differences of node values along the path.
		saabas []float64
	}{
		{
			name:   "right-right",
			x:      []float64{1, 1, 20},
			margin: -0.5 + 5 + 2,
			shap:   []float64{1.75, 0.75, 2.25},
			saabas: []float64{4 - 2.5, 5 - 4, 2 + 0.25},
		},
		{
			// Tree 0 at x0<=0, x1<=0: v{} = 2.5, v{0} = 1, v{1} = 0.5·1 + 0.5·3 = 2,
			// v{0,1} = 1, so φ0 = ((1-2.5) + (1-2))/2 = -1.25 and
			// φ1 = ((2-2.5) + (1-1))/2 = -0.25.
			name:   "left-left",
			x:      []float64{-1, -1, 10},
			margin: -0.5 + 1 - 1,
			shap:   []float64{-1.25, -0.25, -0.75},
			saabas: []float64{1 - 2.5, 0, -1 + 0.25},
		},
		{
			// Thresholds are inclusive: x == threshold goes left.
			name:   "on-threshold",
			x:      []float64{0, 0, 10},
			margin: -0.5 + 1 - 1,
			shap:   []float64{-1.25, -0.25, -0.75},
			saabas: []float64{1 - 2.5, 0, -1 + 0.25},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.Margin(tc.x); math.Abs(got-tc.margin) > tol {
				t.Errorf("Margin(%v) = %v, want %v", tc.x, got, tc.margin)
			}
			wantP := 1 / (1 + math.Exp(-tc.margin))
			if got := tr.Prob(tc.x); math.Abs(got-wantP) > tol {
				t.Errorf("Prob(%v) = %v, want %v", tc.x, got, wantP)
			}
			if got := tr.SHAPContributions(tc.x); !approxEqual(got, tc.shap, tol) {
				t.Errorf("SHAPContributions(%v) = %v, want %v", tc.x, got, tc.shap)
			}
			if got := tr.Contributions(tc.x); !approxEqual(got, tc.saabas, tol) {
				t.Errorf("Contributions(%v) = %v, want %v", tc.x, got, tc.saabas)
			}
		})
	}
}

func TestTreesImportance(t *testing.T) {
	// Gains 3 and 1 on features 0 and 1, 4 on feature 2: total 8.
	got := handTrees().Importance()
	want := []float64{3.0 / 8, 1.0 / 8, 4.0 / 8}
	if !approxEqual(got, want, 1e-15) {
		t.Fatalf("Importance() = %v, want %v", got, want)
	}
}

func approxEqual(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

// condExpect is E[f(x) | x_S] under the tree's path-dependent distribution
// (Lundberg et al. 2018, Algorithm 1, EXPVALUE): follow x at splits on
// features in S, otherwise average the children by cover.
func condExpect(nodes []Node, k int, x []float64, in map[int]bool) float64 {
	n := nodes[k]
	if n.IsLeaf() {
		return n.Value
	}
	if in[n.Feature] {
		if x[n.Feature] <= n.Threshold {
			return condExpect(nodes, n.Left, x, in)
		}
		return condExpect(nodes, n.Right, x, in)
	}
	l, r := nodes[n.Left], nodes[n.Right]
	return (l.Cover*condExpect(nodes, n.Left, x, in) + r.Cover*condExpect(nodes, n.Right, x, in)) / n.Cover
}

// bruteShap computes Shapley values straight from their definition,
// φ_i = Σ_{S ⊆ M\{i}} |S|!(M-|S|-1)!/M! (v(S∪{i}) - v(S)), summed over trees;
// exponential in the number of features, so only for small M.
func bruteShap(tr *Trees, x []float64) []float64 {
	m := tr.NumFeatures
	phi := make([]float64, m)
	fact := func(n int) float64 {
		f := 1.0
		for i := 2; i <= n; i++ {
			f *= float64(i)
		}
		return f
	}
	for _, tree := range tr.Trees {
		for i := 0; i < m; i++ {
			for mask := 0; mask < 1<<m; mask++ {
				if mask&(1<<i) != 0 {
					continue
				}
				in := map[int]bool{}
				size := 0
				for j := 0; j < m; j++ {
					if mask&(1<<j) != 0 {
						in[j] = true
						size++
					}
				}
				without := condExpect(tree.Nodes, 0, x, in)
				in[i] = true
				with := condExpect(tree.Nodes, 0, x, in)
				phi[i] += fact(size) * fact(m-size-1) / fact(m) * (with - without)
			}
		}
	}
	return phi
}

// randomTree grows a random tree of at most maxDepth levels over m features,
// reusing features along paths so TreeSHAP's unwind step is exercised.
func randomTree(rng *rand.Rand, m, maxDepth int) []Node {
	var nodes []Node
	var grow func(d int) int
	grow = func(d int) int {
		k := len(nodes)
		if d == maxDepth || (d > 0 && rng.Float64() < 0.25) {
			nodes = append(nodes, leafNode(rng.NormFloat64(), float64(1+rng.IntN(50))))
			return k
		}
		nodes = append(nodes, splitNode(rng.IntN(m), float64(rng.IntN(5))-2, 0, 0))
		l := grow(d + 1)
		r := grow(d + 1)
		nodes[k].Left, nodes[k].Right = l, r
		return k
	}
	grow(0)
	finish(nodes)
	return nodes
}

func TestSHAPContributionsMatchBruteForceShapley(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const tol = 1e-9
	for _, tc := range []struct {
		name     string
		m, depth int
		trees    int
	}{
		{"stumps", 3, 1, 4},
		{"depth3", 4, 3, 3},
		{"depth6-repeated-features", 3, 6, 3},
		{"depth5-wide", 6, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &Trees{Format: TreesFormat, NumFeatures: tc.m, BaseScore: 0.3}
			for range tc.trees {
				tr.Trees = append(tr.Trees, Tree{Nodes: randomTree(rng, tc.m, tc.depth)})
			}
			if err := tr.Validate(); err != nil {
				t.Fatal(err)
			}
			for range 20 {
				x := make([]float64, tc.m)
				for j := range x {
					x[j] = float64(rng.IntN(7)) - 3
				}
				got := tr.SHAPContributions(x)
				want := bruteShap(tr, x)
				if !approxEqual(got, want, tol) {
					t.Fatalf("SHAPContributions(%v) = %v, want (brute-force Shapley) %v", x, got, want)
				}
				sum, saabasSum := tr.Bias(), tr.Bias()
				for j, s := range tr.Contributions(x) {
					sum += got[j]
					saabasSum += s
				}
				if m := tr.Margin(x); math.Abs(sum-m) > tol || math.Abs(saabasSum-m) > tol {
					t.Fatalf("Bias+sum(shap) = %v, Bias+sum(saabas) = %v, Margin = %v", sum, saabasSum, m)
				}
			}
		})
	}
}

func TestTreesValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Trees)
		ok     bool
	}{
		{"valid", func(*Trees) {}, true},
		{"empty-ensemble", func(tr *Trees) { tr.Trees = nil }, true},
		{"bad-format", func(tr *Trees) { tr.Format = 99 }, false},
		{"no-features", func(tr *Trees) { tr.NumFeatures = 0 }, false},
		{"nan-base", func(tr *Trees) { tr.BaseScore = math.NaN() }, false},
		{"empty-tree", func(tr *Trees) { tr.Trees[1].Nodes = nil }, false},
		{"feature-out-of-range", func(tr *Trees) { tr.Trees[1].Nodes[0].Feature = 3 }, false},
		{"child-points-back", func(tr *Trees) { tr.Trees[0].Nodes[2].Left = 1 }, false},
		{"self-loop", func(tr *Trees) { tr.Trees[0].Nodes[0].Left = 0 }, false},
		{"child-out-of-range", func(tr *Trees) { tr.Trees[1].Nodes[0].Right = 3 }, false},
		{"same-children", func(tr *Trees) { tr.Trees[1].Nodes[0].Right = 1 }, false},
		{"leaf-with-child", func(tr *Trees) { tr.Trees[1].Nodes[1].Left = 2 }, false},
		{"inf-threshold", func(tr *Trees) { tr.Trees[1].Nodes[0].Threshold = math.Inf(1) }, false},
		{"nan-value", func(tr *Trees) { tr.Trees[1].Nodes[2].Value = math.NaN() }, false},
		{"zero-cover", func(tr *Trees) { tr.Trees[1].Nodes[2].Cover = 0 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := handTrees()
			tc.mutate(tr)
			err := tr.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidTrees) {
				t.Fatalf("Validate() = %v, want ErrInvalidTrees", err)
			}
		})
	}
	var nilTrees *Trees
	if err := nilTrees.Validate(); !errors.Is(err, ErrInvalidTrees) {
		t.Fatalf("nil Validate() = %v, want ErrInvalidTrees", err)
	}
}

func TestTreesJSONRoundTrip(t *testing.T) {
	tr := handTrees()
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var got Trees
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	x := []float64{1, -1, 11}
	if a, b := tr.Margin(x), got.Margin(x); a != b {
		t.Fatalf("Margin after JSON round trip = %v, want %v", b, a)
	}
}

func TestMarginPanicsOnShortVector(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Margin with a short vector did not panic")
		}
	}()
	handTrees().Margin([]float64{1, 2})
}

func TestSigmoid(t *testing.T) {
	// References: 1/(1+e^-z) evaluated by hand; the tails must not overflow.
	cases := []struct{ z, want float64 }{
		{0, 0.5},
		{math.Log(3), 0.75},
		{-math.Log(3), 0.25},
		{800, 1},
		{-800, 0},
	}
	for _, tc := range cases {
		if got := Sigmoid(tc.z); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("Sigmoid(%v) = %v, want %v", tc.z, got, tc.want)
		}
	}
}

// FuzzTreesDecode checks that any JSON accepted by Validate can be scored
// and explained without panicking or looping.
func FuzzTreesDecode(f *testing.F) {
	b, _ := json.Marshal(handTrees())
	f.Add(b, 1.0, -1.0, 11.0)
	f.Add([]byte(`{"format":1,"num_features":1,"trees":[{"nodes":[{"feature":-1,"left":-1,"right":-1,"value":2,"cover":1}]}]}`), 0.0, 0.0, 0.0)
	f.Add([]byte(`{"format":1,"num_features":1,"trees":[{"nodes":[{"feature":0,"left":0,"right":0,"cover":1}]}]}`), 0.0, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, data []byte, a, b, c float64) {
		var tr Trees
		if json.Unmarshal(data, &tr) != nil || tr.Validate() != nil {
			return
		}
		x := make([]float64, tr.NumFeatures)
		for i := range x {
			x[i] = []float64{a, b, c}[i%3]
		}
		_ = tr.Margin(x)
		_ = tr.Contributions(x)
		if tr.NumFeatures <= 64 && len(data) < 4096 {
			_ = tr.SHAPContributions(x)
		}
	})
}

// ExampleTrees_Contributions explains a margin with the one-stump
// ensemble BaseScore -1, x0 <= 0.5 ? -1 (3 training rows) : +2 (1 row).
// The expected margin (bias) is -1 + (3·(-1) + 1·2)/4 = -1.25; for x0 = 0.9
// the margin is 1 and feature 0 gets the whole difference 2.25.
func ExampleTrees_Contributions() {
	t := &Trees{
		Format: TreesFormat, NumFeatures: 2, BaseScore: -1,
		Trees: []Tree{{Nodes: []Node{
			{Feature: 0, Threshold: 0.5, Left: 1, Right: 2, Value: -0.25, Cover: 4},
			{Feature: -1, Left: -1, Right: -1, Value: -1, Cover: 3},
			{Feature: -1, Left: -1, Right: -1, Value: 2, Cover: 1},
		}}},
	}
	x := []float64{0.9, 7}
	fmt.Printf("margin %.2f = bias %.2f + %v\n", t.Margin(x), t.Bias(), t.Contributions(x))
	fmt.Printf("shap %v, p %.3f\n", t.SHAPContributions(x), t.Prob(x))
	// Output:
	// margin 1.00 = bias -1.25 + [2.25 0]
	// shap [2.25 0], p 0.731
}

// TestMarginsMatchMargin checks that the batch walk gives Margin's bits for
// every row: random trees numbered depth first (so the breadth-first layout
// renumbers them), a single-leaf tree, the hand-worked ensemble, row counts
// around the block and the four-row step, and values on, below and above
// the thresholds, NaN and ±Inf.
func TestMarginsMatchMargin(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m = 5
	random := &Trees{Format: TreesFormat, NumFeatures: m, BaseScore: -0.7}
	for d := range 12 {
		random.Trees = append(random.Trees, Tree{Nodes: randomTree(rng, m, d)})
	}
	random.Trees = append(random.Trees, Tree{Nodes: []Node{leafNode(0.25, 3)}})
	if err := random.Validate(); err != nil {
		t.Fatal(err)
	}
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -2, -1.5, 0, 2}
	for _, tc := range []struct {
		name string
		tr   *Trees
	}{{"random", random}, {"hand", handTrees()}} {
		for _, n := range []int{0, 1, 3, 4, 5, 63, 64, 65, 200} {
			t.Run(fmt.Sprintf("%s/rows=%d", tc.name, n), func(t *testing.T) {
				rows := make([][]float64, n)
				for i := range rows {
					rows[i] = make([]float64, max(m, tc.tr.NumFeatures))
					for j := range rows[i] {
						if rng.IntN(4) == 0 {
							rows[i][j] = specials[rng.IntN(len(specials))]
						} else {
							rows[i][j] = float64(rng.IntN(7)) - 3 + 0.5*float64(rng.IntN(2))
						}
					}
				}
				out := make([]float64, n)
				tc.tr.Margins(rows, out)
				for i, x := range rows {
					if want := tc.tr.Margin(x); math.Float64bits(out[i]) != math.Float64bits(want) {
						t.Fatalf("Margins row %d %v = %v, Margin = %v", i, x, out[i], want)
					}
				}
			})
		}
	}
	t.Run("panics", func(t *testing.T) {
		for name, fn := range map[string]func(){
			"short row": func() { handTrees().Margins([][]float64{{1, 2}}, make([]float64, 1)) },
			"short out": func() { handTrees().Margins([][]float64{{1, 2, 3}}, nil) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic", name)
					}
				}()
				fn()
			}()
		}
	})
}
