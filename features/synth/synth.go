package synth

import (
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/features"
)

// kind indexes the event types; the order is the order of eventNames.
type kind uint8

const (
	kSession kind = iota
	kPageView
	kFeatureUse
	kAddToCart
	kPurchase
	kRefund
	kViewPricing
	kCancelPage
	kSupportTicket
	kEmailOpen
	numKinds
)

var eventNames = [numKinds]string{
	"session_start", "page_view", "feature_use", "add_to_cart", "purchase",
	"refund", "view_pricing", "cancel_page", "support_ticket", "email_open",
}

// EventTypes returns the names of the event types the generator emits, in a
// fixed order. The caller owns the returned slice.
func EventTypes() []string { return append([]string(nil), eventNames[:]...) }

// Tier is a user's latent usage level.
type Tier uint8

// The usage tiers, from most to least engaged.
const (
	Power Tier = iota
	Regular
	Light
)

// String returns the tier's lower-case name.
func (t Tier) String() string {
	switch t {
	case Power:
		return "power"
	case Regular:
		return "regular"
	case Light:
		return "light"
	}
	return "tier(" + strconv.Itoa(int(t)) + ")"
}

// phase is where a user is in its life cycle.
type phase uint8

const (
	active phase = iota
	declining
	churned
)

// Tunables of the behavioural model. They are constants, not options: the
// committed sample and the tests depend on them.
const (
	secondsPerDay    = 86400
	existingShare    = 0.35  // users that exist on day 0
	suddenChurnShare = 0.15  // churns without a decline phase
	recoverShare     = 0.20  // declines that end in recovery
	reactivateDaily  = 0.004 // daily chance that a churned user comes back
	pauseDaily       = 0.010 // daily chance that a healthy user takes a break
	minPause         = 5     // break length in days, inclusive range
	maxPause         = 30
	newUserDays      = 30   // tenure under which the churn hazard is doubled
	refundShare      = 0.03 // purchases later refunded
	minDecline       = 14   // decline phase length in days, inclusive range
	maxDecline       = 75
	decay            = 0.85 // share of activity lost by the end of a decline
)

// tierParams are the per-tier means of the latent traits.
var tierParams = [3]struct {
	share    float64 // share of users
	sessions float64 // median sessions per day
	features float64 // feature uses per session
	hazard   float64 // daily chance of starting to churn
	email    float64 // mean email open rate
}{
	Power:   {0.10, 0.9, 1.4, 0.0008, 0.55},
	Regular: {0.35, 0.25, 0.8, 0.0018, 0.35},
	Light:   {0.55, 0.07, 0.4, 0.0040, 0.15},
}

// pendingRefund is a refund scheduled for a later day.
type pendingRefund struct {
	day    int32
	sec    int32
	amount float64
}

// user is the latent and dynamic state of one user.
type user struct {
	rng      *rand.Rand
	id       string
	signup   int32
	tier     Tier
	rate     float64 // mean sessions per day over a week
	wkday    float64 // session-rate multiplier Monday..Friday
	wkend    float64 // session-rate multiplier Saturday and Sunday
	peak     float64 // preferred hour of day
	featRate float64 // feature uses per session
	cartP    float64 // chance of add_to_cart per session
	buyP     float64 // chance of purchase given a cart
	mu       float64 // log of the median order amount
	emailP   float64 // chance of opening a campaign email
	hazard   float64 // daily chance of starting to churn
	phase    phase
	declDay  int32 // first day of the current decline
	declLen  int32 // its length in days
	recover  bool  // whether the current decline ends in recovery
	pauseEnd int32 // first day after a break; no activity before it
	refunds  []pendingRefund
	truth    truth
}

// truth records the hidden life-cycle events of a user as day indexes.
type truth struct {
	declines, churns, reactivations []int32
}

// rec is one generated event, compact: the second within its day, the user
// index, the type and the amount.
type rec struct {
	sec    int32
	user   int32
	kind   kind
	amount float64
}

// Generator produces a synthetic history one day at a time, in time order.
// It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	users   []user
	startWD int // weekday of day 0
	day     int // next day to generate
	cur     []rec
	next    []rec // events spilling into the next day
	sorted  []rec
	counts  []int32
	pos     int // read position in sorted for Next
	curDay  int // day of sorted
}

// New returns a generator for cfg (nil means DefaultConfig). It draws every
// user's latent traits up front.
func New(cfg *Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	g := &Generator{
		cfg:     c,
		users:   make([]user, c.Users),
		startWD: int(c.Start.Weekday()),
		counts:  make([]int32, secondsPerDay+1),
		curDay:  -1,
	}
	width := len(strconv.Itoa(c.Users))
	for i := range g.users {
		g.users[i] = newUser(c.Seed, i, width, c.Days)
	}
	return g, nil
}

// splitmix64 scrambles x; it turns (seed, index) pairs into well-spread
// PCG seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// userID formats index i (0-based) as "u" and a 1-based, zero-padded number.
func userID(i, width int) string {
	s := strconv.Itoa(i + 1)
	return "u" + strings.Repeat("0", width-len(s)) + s
}

func newUser(seed uint64, i, width, days int) user {
	r := rand.New(rand.NewPCG(splitmix64(seed), splitmix64(seed^splitmix64(uint64(i)+1))))
	u := user{rng: r, id: userID(i, width)}
	x := r.Float64()
	switch {
	case x < tierParams[Power].share:
		u.tier = Power
	case x < tierParams[Power].share+tierParams[Regular].share:
		u.tier = Regular
	default:
		u.tier = Light
	}
	tp := tierParams[u.tier]
	if r.Float64() >= existingShare {
		u.signup = int32(r.IntN(days))
	}
	u.rate = tp.sessions * math.Exp(0.5*r.NormFloat64())
	w := math.Exp(0.45 * r.NormFloat64()) // weekend preference
	u.wkday = 7 / (5 + 2*w)
	u.wkend = w * u.wkday
	switch y := r.Float64(); {
	case y < 0.3:
		u.peak = 9
	case y < 0.6:
		u.peak = 13
	default:
		u.peak = 20.5
	}
	u.peak += 0.8 * r.NormFloat64()
	u.featRate = tp.features * math.Exp(0.4*r.NormFloat64())
	u.cartP = 0.04 + 0.22*r.Float64()
	u.buyP = 0.25 + 0.4*r.Float64()
	u.mu = math.Log(30) + 0.6*r.NormFloat64()
	u.emailP = min(0.95, tp.email*math.Exp(0.5*r.NormFloat64()))
	u.hazard = tp.hazard * math.Exp(0.5*r.NormFloat64())
	return u
}

// poisson draws from a Poisson distribution with a small mean (Knuth).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		// Normal approximation; never reached by the model's rates.
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l := math.Exp(-lambda)
	k := 0
	p := r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// gap returns the seconds between two events of a session.
func gap(r *rand.Rand) int32 { return 5 + int32(r.ExpFloat64()*40) }

// emailDay reports whether campaign emails go out on weekday wd (Tuesday
// and Friday).
func emailDay(wd int) bool { return wd == int(time.Tuesday) || wd == int(time.Friday) }

// simulate appends user u's events of day d to out. Events whose second is
// past the end of the day stay in out with sec >= secondsPerDay; the caller
// moves them to the next day.
func (u *user) simulate(d int, wd int, idx int32, out []rec) []rec {
	if int32(d) < u.signup {
		return out
	}
	r := u.rng
	// Refunds due today are emitted whatever the phase: the shop processes them.
	for k := 0; k < len(u.refunds); {
		if u.refunds[k].day == int32(d) {
			out = append(out, rec{sec: u.refunds[k].sec, user: idx, kind: kRefund, amount: -u.refunds[k].amount})
			u.refunds[k] = u.refunds[len(u.refunds)-1]
			u.refunds = u.refunds[:len(u.refunds)-1]
			continue
		}
		k++
	}
	switch u.phase {
	case churned:
		if r.Float64() >= reactivateDaily {
			return out
		}
		u.phase = active
		u.rate *= 0.6
		u.hazard *= 1.5
		u.truth.reactivations = append(u.truth.reactivations, int32(d))
	case active:
		h := u.hazard
		if int32(d)-u.signup < newUserDays {
			h *= 2
		}
		if int32(d) > u.signup && r.Float64() < h {
			u.truth.declines = append(u.truth.declines, int32(d))
			if r.Float64() < suddenChurnShare {
				u.phase = churned
				u.truth.churns = append(u.truth.churns, int32(d))
				return out
			}
			u.phase = declining
			u.declDay = int32(d)
			u.declLen = int32(minDecline + r.IntN(maxDecline-minDecline+1))
			u.recover = r.Float64() < recoverShare
		} else if int32(d) < u.pauseEnd {
			return out
		} else if int32(d) > u.signup && r.Float64() < pauseDaily {
			u.pauseEnd = int32(d + minPause + r.IntN(maxPause-minPause+1))
			return out
		}
	case declining:
		if int32(d) >= u.declDay+u.declLen {
			if u.recover {
				u.phase = active
			} else {
				u.phase = churned
				u.truth.churns = append(u.truth.churns, int32(d))
				return out
			}
		}
	}
	p := 0.0 // progress through a decline, 0 when healthy
	if u.phase == declining {
		p = float64(int32(d)-u.declDay+1) / float64(u.declLen)
	}
	act := 1 - decay*p
	weekend := wd == int(time.Saturday) || wd == int(time.Sunday)
	mult, shift := u.wkday, 0.0
	if weekend {
		mult, shift = u.wkend, 1.5
	}
	n := poisson(r, u.rate*mult*act)
	if int32(d) == u.signup && n == 0 && u.phase == active {
		n = 1 // a signup day always has a session
	}
	for range n {
		out = u.session(d, idx, p, act, shift, out)
	}
	// A ticket by email or phone, without a session.
	if r.Float64() < 0.002+0.05*p {
		out = append(out, rec{sec: hourSec(r, 13, 3), user: idx, kind: kSupportTicket})
	}
	// A look at the cancellation page from a link in an email.
	if r.Float64() < 0.0005+0.04*p {
		out = append(out, rec{sec: hourSec(r, u.peak+shift, 2), user: idx, kind: kCancelPage})
	}
	if emailDay(wd) && r.Float64() < u.emailP*act {
		out = append(out, rec{sec: hourSec(r, u.peak+shift, 3), user: idx, kind: kEmailOpen})
	}
	return out
}

// hourSec draws a second of the day around hour peak with spread sd hours.
func hourSec(r *rand.Rand, peak, sd float64) int32 {
	h := math.Mod(peak+sd*r.NormFloat64(), 24)
	if h < 0 {
		h += 24
	}
	s := int32(h * 3600)
	return min(s, secondsPerDay-1)
}

// session appends one session of user u on day d.
func (u *user) session(d int, idx int32, p, act, shift float64, out []rec) []rec {
	r := u.rng
	t := hourSec(r, u.peak+shift, 2)
	out = append(out, rec{sec: t, user: idx, kind: kSession})
	pv := 1 + poisson(r, 1.2)
	fu := poisson(r, u.featRate*act)
	for left := pv + fu; left > 0; left-- {
		t += gap(r)
		k := kPageView
		if r.IntN(left) < fu {
			k = kFeatureUse
			fu--
		}
		out = append(out, rec{sec: t, user: idx, kind: k})
	}
	if r.Float64() < 0.03+0.35*p {
		t += gap(r)
		out = append(out, rec{sec: t, user: idx, kind: kViewPricing})
	}
	if r.Float64() < u.cartP*(1-0.5*p) {
		t += gap(r)
		out = append(out, rec{sec: t, user: idx, kind: kAddToCart})
		if r.Float64() < u.buyP*(1-0.6*p) {
			t += gap(r)
			amt := math.Round(math.Exp(u.mu+0.5*r.NormFloat64())*100) / 100
			amt = max(amt, 0.5)
			out = append(out, rec{sec: t, user: idx, kind: kPurchase, amount: amt})
			if r.Float64() < refundShare {
				u.refunds = append(u.refunds, pendingRefund{
					day:    int32(d + 1 + r.IntN(14)),
					sec:    int32(r.IntN(secondsPerDay)),
					amount: amt,
				})
			}
		}
	}
	if r.Float64() < 0.004+0.2*p {
		t += gap(r)
		out = append(out, rec{sec: t, user: idx, kind: kCancelPage})
	}
	if r.Float64() < 0.01+0.12*p {
		t += gap(r)
		out = append(out, rec{sec: t, user: idx, kind: kSupportTicket})
	}
	return out
}

// step generates the next day into g.sorted and reports false when the
// history is exhausted.
func (g *Generator) step() bool {
	if g.day >= g.cfg.Days {
		g.sorted = g.sorted[:0]
		return false
	}
	d := g.day
	g.day++
	wd := (g.startWD + d) % 7
	// Start from the events that spilled over from yesterday.
	g.cur, g.next = g.next, g.cur[:0]
	for i := range g.users {
		g.cur = g.users[i].simulate(d, wd, int32(i), g.cur)
	}
	// Counting sort by second; spills go to the next day with sec shifted.
	clear(g.counts)
	n := 0
	for _, e := range g.cur {
		if e.sec >= secondsPerDay {
			e.sec -= secondsPerDay
			g.next = append(g.next, e)
			continue
		}
		g.counts[e.sec+1]++
		n++
	}
	for s := 1; s <= secondsPerDay; s++ {
		g.counts[s] += g.counts[s-1]
	}
	if cap(g.sorted) < n {
		g.sorted = make([]rec, n, n+n/4)
	}
	g.sorted = g.sorted[:n]
	for _, e := range g.cur {
		if e.sec >= secondsPerDay {
			continue
		}
		g.sorted[g.counts[e.sec]] = e
		g.counts[e.sec]++
	}
	g.sorted = dropDuplicates(g.sorted)
	g.curDay = d
	g.pos = 0
	return true
}

// dropDuplicates removes events identical to an earlier one in the same
// second (same user, type and amount; overlapping sessions can produce
// them). Readers drop exact duplicate rows, so the history has none. recs is
// sorted by second; the compaction keeps the order.
func dropDuplicates(recs []rec) []rec {
	out := recs[:0]
	start := 0 // first index in out of the current second
	for _, e := range recs {
		if len(out) > 0 && out[len(out)-1].sec != e.sec {
			start = len(out)
		}
		dup := false
		for _, o := range out[start:] {
			if o == e {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// Next returns the next event in time order, or io.EOF after the last one.
func (g *Generator) Next() (features.Event, error) {
	for g.pos >= len(g.sorted) {
		if !g.step() {
			return features.Event{}, io.EOF
		}
	}
	e := g.sorted[g.pos]
	g.pos++
	return features.Event{
		UserID: g.users[e.user].id,
		Name:   eventNames[e.kind],
		Time:   g.cfg.Start.Add(time.Duration(g.curDay)*24*time.Hour + time.Duration(e.sec)*time.Second),
		Amount: e.amount,
	}, nil
}

// UserTruth is the hidden state behind one user's history: what a churn
// model tries to recover. Tests and evaluations use it; a real export has
// nothing like it.
type UserTruth struct {
	UserID string
	Tier   Tier
	// Signup is the day of the user's first possible event.
	Signup time.Time
	// Declines are the days a churn started (a decline phase or a sudden churn).
	Declines []time.Time
	// Churns are the first days without any activity after a churn.
	Churns []time.Time
	// Reactivations are the days a churned user came back.
	Reactivations []time.Time
}

// Truth returns the hidden state of every user, in user order. Life-cycle
// days are filled in only up to the last day generated so far.
func (g *Generator) Truth() []UserTruth {
	day := func(d int32) time.Time { return g.cfg.Start.AddDate(0, 0, int(d)) }
	days := func(ds []int32) []time.Time {
		if len(ds) == 0 {
			return nil
		}
		out := make([]time.Time, len(ds))
		for i, d := range ds {
			out[i] = day(d)
		}
		return out
	}
	out := make([]UserTruth, len(g.users))
	for i := range g.users {
		u := &g.users[i]
		out[i] = UserTruth{
			UserID:        u.id,
			Tier:          u.tier,
			Signup:        day(u.signup),
			Declines:      days(u.truth.declines),
			Churns:        days(u.truth.churns),
			Reactivations: days(u.truth.reactivations),
		}
	}
	return out
}

// Config returns the generator's configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }
