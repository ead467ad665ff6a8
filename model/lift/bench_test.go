package lift

import (
	"fmt"
	"testing"
)

func userIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%08d", i)
	}
	return ids
}

// BenchmarkAssigner measures the per-user cost of an experiment's
// assignment with a reused Assigner (the CLI and server path).
func BenchmarkAssigner(b *testing.B) {
	ids := userIDs(1 << 12)
	a := NewAssigner("winback-2024", "s3cret")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = a.Group(ids[n&(len(ids)-1)], 0.1)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkAssign measures the one-call convenience function, which
// derives the HMAC key on every call.
func BenchmarkAssign(b *testing.B) {
	ids := userIDs(1 << 12)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = Assign("winback-2024", "s3cret", ids[n&(len(ids)-1)], 0.1)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "users/s")
}

func BenchmarkAssignStratified(b *testing.B) {
	for _, size := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			members := make([]Member, size)
			for i, id := range userIDs(size) {
				members[i] = Member{UserID: id, Stratum: []string{"low", "medium", "high"}[i%3]}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := AssignStratified("winback-2024", "s3cret", members, 0.1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
		})
	}
}

func BenchmarkCompareProportions(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompareProportions("retention", Proportion{10000, 3810}, Proportion{3100, 1085}, 0.24); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareMeans(b *testing.B) {
	t, c := MomentsFromSummary(10000, 12.4, 30), MomentsFromSummary(3000, 11.2, 28)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompareMeans("revenue", t, c, 0.23); err != nil {
			b.Fatal(err)
		}
	}
}
