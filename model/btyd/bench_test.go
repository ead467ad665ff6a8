package btyd

import "testing"

// Per-customer scoring costs at the CDNOW parameters.
// Run: go test ./model/btyd/ -run '^$' -bench .

func BenchmarkPAlive(b *testing.B) {
	for b.Loop() {
		cdnow.PAlive(2, 30.43, 38.86)
	}
}

func BenchmarkExpectedPurchases(b *testing.B) {
	for _, tc := range []struct {
		name        string
		t, x, tx, T float64
	}{
		{"x=0,t=13", 13, 0, 0, 38.86},
		{"x=2,t=39", 39, 2, 30.43, 38.86},
		{"x=25,t=520", 520, 25, 38, 38.5},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cdnow.ExpectedPurchases(tc.t, tc.x, tc.tx, tc.T); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCLV(b *testing.B) {
	g := GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CLV(cdnow, g, 2, 30.43, 38.86, 29.73, nil); err != nil {
			b.Fatal(err)
		}
	}
}
