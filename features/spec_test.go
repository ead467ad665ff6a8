package features

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSpecJSONRoundTrip(t *testing.T) {
	s := DefaultSpec()
	s.Vocabulary = []string{"page_view", "login", "add to cart, \"quoted\""}
	s.ActivityEvents = []string{"login", "page_view"}
	s.SupportEvents = nil
	s.Derive()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Names(), s.Names()) || !reflect.DeepEqual(got.Features, s.Features) ||
		!slices.Equal(got.Vocabulary, s.Vocabulary) || !slices.Equal(got.ActivityEvents, s.ActivityEvents) {
		t.Errorf("round trip changed the spec:\n%s", b)
	}
	if _, err := ParseSpec([]byte(`{"version":1,"windowz":[7]}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestDefaultSpecNames(t *testing.T) {
	s := DefaultSpec()
	n := s.Names()
	// 4 recency/tenure + 4+4+1 frequency + 4·3+3 monetary + 4 usage (other
	// only) + 4 distinct + 5 trend/rhythm + 4·2 intent + 2 time of day = 51.
	if len(n) != 51 {
		t.Errorf("%d names, want 51: %v", len(n), n)
	}
	for i, want := range map[int]string{0: "recency_days", 4: "events_7d", 12: "events_total", 28: "n_other_7d", 40: "prev_gap_days", 50: "peak_hour"} {
		if n[i] != want {
			t.Errorf("names[%d] = %q, want %q", i, n[i], want)
		}
	}
	for _, f := range s.Features {
		want := TransformLog1p
		if f.Name == "ever_purchased" || f.Name == "trend_30d" || f.Name == "weekend_share" ||
			f.Name == "peak_hour" || strings.HasPrefix(f.Name, "distinct_types_") {
			want = TransformNone
		}
		if f.Transform != want {
			t.Errorf("%s: transform %q, want %q", f.Name, f.Transform, want)
		}
	}
	// log1p(e − 1) = 1.
	if got := TransformLog1p.Apply(math.E - 1); math.Abs(got-1) > 1e-15 {
		t.Errorf("log1p(e-1) = %v", got)
	}
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(s *Spec)
		derive bool
		want   []string // substrings of the error, one per bad field
	}{
		{"OK", func(s *Spec) {}, true, nil},
		{"ErrVersion", func(s *Spec) { s.Version = 2 }, true, []string{"version 2"}},
		{"ErrWindows", func(s *Spec) { s.Windows = []int{30, 7, 0, 99999} }, true,
			[]string{"windows[1] = 7: not greater", "windows[2] = 0", "windows[3] = 99999: want 1..3660"}},
		{"ErrNoWindows", func(s *Spec) { s.Windows = nil }, true, []string{"windows: empty"}},
		{"ErrVocabulary", func(s *Spec) { s.Vocabulary = []string{"a", "", "a", "other"} }, true,
			[]string{"vocabulary[1]: empty", "vocabulary[2]: duplicate", `"other" is reserved`}},
		{"ErrEvents", func(s *Spec) {
			s.TargetEvent = ""
			s.EligibilityDays = 0
			s.PurchaseEvents = []string{"x", "x"}
			s.VocabularySize = -1
		}, true, []string{"target_event: empty", "eligibility_days 0", "purchase_events[1]: duplicate", "vocabulary_size -1"}},
		{"ErrStaleFeatures", func(s *Spec) { s.Vocabulary = []string{"login"} }, false,
			[]string{"features: 51 entries, the other fields imply 55"}},
		{"ErrTransform", func(s *Spec) { s.Features[3].Transform = "sqrt" }, false,
			[]string{`features[3] "tenure_days": unknown transform "sqrt"`}},
		{"ErrRenamed", func(s *Spec) { s.Features[0].Name = "recency" }, false,
			[]string{`features[0]: name "recency", want "recency_days"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSpec()
			tc.edit(s)
			if tc.derive {
				s.Derive()
			}
			err := s.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if err := (*Spec)(nil).Validate(); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("nil spec: %v", err)
	}
}
