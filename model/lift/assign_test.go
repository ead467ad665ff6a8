package lift

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestUnitReference pins the assignment rule across languages and
// machines: the expected values were computed offline with Python 3's
// hmac and hashlib modules, building the key as documented in NewAssigner
// ("lapse/experiment/v1\x00" or "lapse/global-control/v1\x00", uvarint
// length of the name, name, salt) and taking (first 8 MAC bytes,
// big-endian) >> 11 divided by 2^53.
func TestUnitReference(t *testing.T) {
	long := strings.Repeat("x", 200)
	longUser := "user-with-a-rather-long-identifier-" + strings.Repeat("z", 80)
	cases := []struct {
		name             string
		experiment, salt string
		user             string
		global           bool
		want             float64
	}{
		{"short user", "winback-2024", "s3cret", "u1", false, 0.042002597846507395},
		{"numeric user", "winback-2024", "s3cret", "17850", false, 0.4845972040453914},
		{"other salt", "winback-2024", "other-salt", "17850", false, 0.7750609381668354},
		{"key over one block and two-block user", long, "salt", longUser, false, 0.6087952045545549},
		{"all empty", "", "", "", false, 0.9411601153350143},
		{"global control", "", "s3cret", "17850", true, 0.796900182475298},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := NewAssigner(c.experiment, c.salt)
			if c.global {
				a = NewGlobalControl(c.salt)
			}
			if got := a.Unit(c.user); got != c.want {
				t.Errorf("Unit(%q) = %v, want %v", c.user, got, c.want)
			}
		})
	}
}

// TestMACMatchesCryptoHMAC checks the hand-rolled HMAC against crypto/hmac
// for keys and messages around the SHA-256 block boundaries.
func TestMACMatchesCryptoHMAC(t *testing.T) {
	for _, nameLen := range []int{0, 1, 30, 40, 63, 64, 65, 200} {
		for _, userLen := range []int{0, 1, 55, 56, 64, 65, 130} {
			name := strings.Repeat("e", nameLen)
			user := strings.Repeat("u", userLen)
			key := append([]byte(domainExperiment), binary.AppendUvarint(nil, uint64(nameLen))...)
			key = append(key, name...)
			key = append(key, "salt"...)
			h := hmac.New(sha256.New, key)
			h.Write([]byte(user))
			want := h.Sum(nil)
			got := NewAssigner(name, "salt").mac(user)
			if string(got[:]) != string(want) {
				t.Errorf("name len %d, user len %d: mac %x, want %x", nameLen, userLen, got, want)
			}
		}
	}
}

func TestAssignDeterministic(t *testing.T) {
	a := NewAssigner("exp", "salt")
	for i := range 1000 {
		u := fmt.Sprintf("user-%d", i)
		g1 := Assign("exp", "salt", u, 0.3)
		g2 := Assign("exp", "salt", u, 0.3)
		g3 := a.Group(u, 0.3)
		if g1 != g2 || g1 != g3 {
			t.Fatalf("user %q: groups %s, %s, %s differ", u, g1, g2, g3)
		}
	}
}

// sigmaShare returns the standard deviation of an observed share of n
// Bernoulli(p) draws.
func sigmaShare(p float64, n int) float64 { return math.Sqrt(p * (1 - p) / float64(n)) }

func TestControlShare(t *testing.T) {
	const n = 100_000
	for _, h := range []float64{0.05, 0.1, 0.5} {
		t.Run(fmt.Sprint(h), func(t *testing.T) {
			a := NewAssigner("share-test", "salt")
			ctrl := 0
			for i := range n {
				if a.Group(fmt.Sprintf("u%d", i), h) == Control {
					ctrl++
				}
			}
			got := float64(ctrl) / n
			if d := math.Abs(got - h); d > 4*sigmaShare(h, n) {
				t.Errorf("control share %.5f, want %.2f ± 4σ (%.5f)", got, h, 4*sigmaShare(h, n))
			}
		})
	}
}

// TestUnitUniform checks the units with a chi-square test over 20 equal
// bins: with 19 degrees of freedom the 99.9% quantile is 43.82 (scipy
// chi2.ppf(0.999, 19)).
func TestUnitUniform(t *testing.T) {
	const n, bins = 100_000, 20
	var count [bins]int
	a := NewAssigner("uniform", "salt")
	for i := range n {
		count[int(a.Unit(fmt.Sprint(i))*bins)]++
	}
	e := float64(n) / bins
	var chi2 float64
	for _, c := range count {
		chi2 += (float64(c) - e) * (float64(c) - e) / e
	}
	if chi2 > 43.82 {
		t.Errorf("chi-square %.1f over %d bins, want < 43.82", chi2, bins)
	}
}

// TestIndependentExperiments checks that two experiments' 50% controls
// overlap in a quarter of users, as independent splits do, and so do two
// salts of one experiment and an experiment and the global control group.
func TestIndependentExperiments(t *testing.T) {
	const n = 100_000
	a1 := NewAssigner("campaign-a", "salt")
	pairs := []struct {
		name string
		in2  func(u string) bool
	}{
		{"other experiment", func(u string) bool { return Assign("campaign-b", "salt", u, 0.5) == Control }},
		{"other salt", func(u string) bool { return Assign("campaign-a", "salt2", u, 0.5) == Control }},
		{"global control", func(u string) bool { return InGlobalControl("salt", u, 0.5) }},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			both := 0
			for i := range n {
				u := fmt.Sprintf("user%07d", i)
				if a1.Group(u, 0.5) == Control && p.in2(u) {
					both++
				}
			}
			got := float64(both) / n
			if d := math.Abs(got - 0.25); d > 4*sigmaShare(0.25, n) {
				t.Errorf("overlap %.5f, want 0.25 ± %.5f", got, 4*sigmaShare(0.25, n))
			}
		})
	}
}

func TestHoldoutMonotone(t *testing.T) {
	a := NewAssigner("mono", "salt")
	for i := range 5000 {
		u := fmt.Sprint(i)
		if a.Group(u, 0.1) == Control && a.Group(u, 0.2) != Control {
			t.Fatalf("user %s in control at 10%% but not at 20%%", u)
		}
		if InGlobalControl("s", u, 0.05) && !InGlobalControl("s", u, 0.06) {
			t.Fatalf("user %s in global control at 5%% but not at 6%%", u)
		}
	}
	if g := a.Group("x", 0); g != Treatment {
		t.Errorf("holdout 0: got %s, want treatment", g)
	}
	if g := a.Group("x", 1); g != Control {
		t.Errorf("holdout 1: got %s, want control", g)
	}
}

func TestGlobalControlShare(t *testing.T) {
	const n, share = 100_000, 0.05
	in := 0
	for i := range n {
		if InGlobalControl("gc-salt", fmt.Sprint(i), share) {
			in++
		}
	}
	got := float64(in) / n
	if d := math.Abs(got - share); d > 4*sigmaShare(share, n) {
		t.Errorf("global control share %.5f, want %.2f ± %.5f", got, share, 4*sigmaShare(share, n))
	}
}

func TestAssignStratified(t *testing.T) {
	// Strata of sizes whose round(0.1·n) needs rounding both ways.
	sizes := map[string]int{"high": 1234, "medium": 5, "low": 15, "single": 1, "none": 7000}
	var members []Member
	for s, n := range sizes {
		for i := range n {
			members = append(members, Member{UserID: fmt.Sprintf("%s-%d", s, i), Stratum: s})
		}
	}
	const h = 0.1
	groups, err := AssignStratified("strat", "salt", members, h)
	if err != nil {
		t.Fatal(err)
	}
	ctrl := map[string]int{}
	maxCtrl, minTreat := map[string]float64{}, map[string]float64{}
	a := NewAssigner("strat", "salt")
	for i, m := range members {
		u := a.Unit(m.UserID)
		if groups[i] == Control {
			ctrl[m.Stratum]++
			maxCtrl[m.Stratum] = math.Max(maxCtrl[m.Stratum], u)
		} else if v, ok := minTreat[m.Stratum]; !ok || u < v {
			minTreat[m.Stratum] = u
		}
	}
	// Hand-computed: round(0.1·1234) = 123, round(0.5) = 1 (half away from
	// zero), round(1.5) = 2, round(0.1) = 0, round(700) = 700.
	want := map[string]int{"high": 123, "medium": 1, "low": 2, "single": 0, "none": 700}
	for s, w := range want {
		if ctrl[s] != w {
			t.Errorf("stratum %s: %d control of %d, want %d", s, ctrl[s], sizes[s], w)
		}
		if math.Abs(float64(ctrl[s])-h*float64(sizes[s])) > 1 {
			t.Errorf("stratum %s: control %d not within 1 of %v", s, ctrl[s], h*float64(sizes[s]))
		}
		if ctrl[s] > 0 && maxCtrl[s] >= minTreat[s] {
			t.Errorf("stratum %s: a control user ranks above a treatment user", s)
		}
	}

	t.Run("OrderIndependent", func(t *testing.T) {
		rev := make([]Member, len(members))
		for i, m := range members {
			rev[len(members)-1-i] = m
		}
		g2, err := AssignStratified("strat", "salt", rev, h)
		if err != nil {
			t.Fatal(err)
		}
		for i := range members {
			if groups[i] != g2[len(members)-1-i] {
				t.Fatalf("member %v: %s in input order, %s reversed", members[i], groups[i], g2[len(members)-1-i])
			}
		}
	})
	t.Run("ErrDuplicateUser", func(t *testing.T) {
		_, err := AssignStratified("e", "s", []Member{{"a", "x"}, {"b", "x"}, {"a", "y"}}, h)
		if !errors.Is(err, ErrDuplicateUser) {
			t.Errorf("got %v, want ErrDuplicateUser", err)
		}
	})
	t.Run("ErrShare", func(t *testing.T) {
		for _, bad := range []float64{-0.1, 1.5, math.NaN()} {
			if _, err := AssignStratified("e", "s", members[:3], bad); !errors.Is(err, ErrShare) {
				t.Errorf("holdout %v: got %v, want ErrShare", bad, err)
			}
		}
	})
}

func TestParseGroup(t *testing.T) {
	cases := []struct {
		in      string
		want    Group
		wantErr bool
	}{
		{"treatment", Treatment, false},
		{"control", Control, false},
		{"Control", "", true},
		{"", "", true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseGroup(c.in)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("ParseGroup(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestCheckShare(t *testing.T) {
	for _, ok := range []float64{0, 0.1, 1} {
		if err := CheckShare("holdout", ok); err != nil {
			t.Errorf("CheckShare(%v) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []float64{-1e-9, 1.0000001, math.NaN(), math.Inf(1)} {
		if err := CheckShare("holdout", bad); !errors.Is(err, ErrShare) {
			t.Errorf("CheckShare(%v) = %v, want ErrShare", bad, err)
		}
	}
}

// TestAssignerConcurrent checks that one Assigner used from several
// goroutines gives the same units as sequential use (run with -race).
func TestAssignerConcurrent(t *testing.T) {
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%d", i)
	}
	a := NewAssigner("concurrent", "salt")
	want := make([]float64, len(ids))
	for i, u := range ids {
		want[i] = a.Unit(u)
	}
	const workers = 4
	errs := make(chan string, workers)
	for w := range workers {
		go func() {
			for i := range ids {
				j := (i + w*500) % len(ids)
				if got := a.Unit(ids[j]); got != want[j] {
					errs <- fmt.Sprintf("worker %d: Unit(%q) = %v, want %v", w, ids[j], got, want[j])
					return
				}
			}
			errs <- ""
		}()
	}
	for range workers {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
