package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/lapse-dev/lapse/model"
)

// These errors can be returned when opening a store.
var (
	// ErrLocked means another process holds the store file (a running
	// lapse serve, or a training run) and did not release it within
	// Options.Timeout.
	ErrLocked = errors.New("store file is in use by another process")
	// ErrFormat means the file is a bbolt database written by an
	// incompatible version of lapse, or not a lapse store.
	ErrFormat = errors.New("unsupported store format")
)

// These errors can be returned by store methods.
var (
	// ErrNotFound means the model version or experiment does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means an experiment of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid means an argument cannot be stored: an empty or oversized
	// key, an invalid model, an assignment without a user.
	ErrInvalid = errors.New("invalid argument")
)

// formatVersion is the layout version written under meta/"format".
const formatVersion = "1"

// Bucket and key names (see the package documentation).
var (
	bMeta        = []byte("meta")
	bModels      = []byte("models")
	bReports     = []byte("reports")
	bModelUsers  = []byte("model_users")
	bScores      = []byte("scores")
	bStates      = []byte("states")
	bOptOuts     = []byte("optouts")
	bExperiments = []byte("experiments")
	bAssignments = []byte("assignments")

	kFormat        = []byte("format")
	kActive        = []byte("active")
	kGlobalControl = []byte("global_control")

	topBuckets = [][]byte{bMeta, bModels, bReports, bModelUsers, bScores, bStates, bOptOuts, bExperiments, bAssignments}
)

// pageSize is the page size of new files: 16 KiB rather than the OS page,
// so that saving a million users' records takes a quarter of the page
// writes (bbolt writes page by page); existing files keep theirs. It is
// also the fastest size tried for POST /v1/events on a 1M-user store
// (session-shaped batches: 4, 32 and 64 KiB pages gave about half the
// events/s, 8 KiB about a tenth less; README "Serving").
const pageSize = 16 << 10

// initialMmap is the address space mapped at open. bbolt copies every
// node of a write transaction out of the map each time it has to grow it,
// which made saving a million users a third slower; 1 GiB of address space
// (not memory) covers about 1M users without a remap.
const initialMmap = 1 << 30

// maxKey is the longest key bbolt accepts.
const maxKey = bolt.MaxKeySize

// Options configure Open. A nil *Options means DefaultOptions().
type Options struct {
	// Timeout bounds the wait for the file lock held by another process;
	// past it Open returns ErrLocked. 0 means 1 s; a negative value waits
	// forever.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock: several read-only
	// processes may share it, none while a writer holds it.
	ReadOnly bool
	// BatchSize is the number of users SaveModel writes per transaction;
	// 0 means 20,000.
	BatchSize int
	// NoSync skips fsync after each commit. THIS IS UNSAFE: a crash can
	// lose committed data. For tests and benchmarks only.
	NoSync bool
}

// DefaultOptions returns a fresh Options with every default filled in.
func DefaultOptions() *Options {
	return &Options{Timeout: time.Second, BatchSize: 20000}
}

// Store is an open lapse store. It is safe for concurrent use by the
// goroutines of one process.
type Store struct {
	db        *bolt.DB
	path      string
	batchSize int
	group     *group // UpdateStates' group commit
}

// Open opens the store at path, creating the file (mode 0600) and its
// buckets when missing. A writable Open also removes what an interrupted
// SaveModel left behind.
func Open(path string, opts *Options) (*Store, error) {
	o := DefaultOptions()
	if opts != nil {
		*o = *opts
		if o.Timeout == 0 {
			o.Timeout = time.Second
		}
		if o.BatchSize <= 0 {
			o.BatchSize = 20000
		}
	}
	timeout := o.Timeout
	if timeout < 0 {
		timeout = 0 // bbolt: wait forever
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: o.ReadOnly, NoSync: o.NoSync, PageSize: pageSize,
		InitialMmapSize: initialMmap})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("store: open %s: %w (waited %v for its lock; stop the other lapse process, e.g. lapse serve, or use another file)", path, ErrLocked, o.Timeout)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.AllocSize = 64 << 20 // grow the file in 64 MiB steps
	s := &Store{db: db, path: path, batchSize: o.BatchSize, group: &group{db: db}}
	if o.ReadOnly {
		err = db.View(func(tx *bolt.Tx) error { return checkFormat(tx) })
	} else {
		err = db.Update(s.initTx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return s, nil
}

// checkFormat checks the layout version of an existing store.
func checkFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	if meta == nil {
		if tx.Bucket(bModels) == nil {
			return nil // an empty file: nothing to read yet
		}
		return fmt.Errorf("%w: no meta bucket", ErrFormat)
	}
	if v := meta.Get(kFormat); string(v) != formatVersion {
		return fmt.Errorf("%w: layout %q, this lapse reads %q", ErrFormat, v, formatVersion)
	}
	return nil
}

// initTx creates missing buckets, writes the format, and drops the score
// and state buckets of versions without a model record (an interrupted
// save).
func (s *Store) initTx(tx *bolt.Tx) error {
	if err := checkFormat(tx); err != nil {
		return err
	}
	for _, name := range topBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bMeta).Put(kFormat, []byte(formatVersion)); err != nil {
		return err
	}
	models := tx.Bucket(bModels)
	for _, parent := range [][]byte{bScores, bStates} {
		p := tx.Bucket(parent)
		var orphans [][]byte
		err := p.ForEachBucket(func(k []byte) error {
			if models.Get(k) == nil {
				orphans = append(orphans, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range orphans {
			if err := p.DeleteBucket(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Check runs bbolt's consistency check over the whole file (every page
// reachable once, freelist consistent) and returns every problem found.
func (s *Store) Check(ctx context.Context) error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
			if len(errs) == 100 {
				break
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("store: check %s: %w", s.path, errors.Join(errs...))
		}
		return ctx.Err()
	})
}

// view runs fn in a read transaction after checking ctx.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// update runs fn in a write transaction after checking ctx.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// checkKey reports whether k can be a bbolt key.
func checkKey(what, k string) error {
	if k == "" || len(k) > maxKey {
		return fmt.Errorf("store: %s of %d bytes: %w", what, len(k), ErrInvalid)
	}
	return nil
}

// ModelInfo describes one stored model version.
type ModelInfo struct {
	Version     string
	CreatedAt   time.Time
	AsOf        time.Time
	HorizonDays int
	// Users is the number of stored score records.
	Users   int
	Metrics map[string]float64
	Active  bool
}

// UserRecord is what SaveModel stores for one user: the score record
// (may be nil) and the encoded features.State (may be nil).
type UserRecord struct {
	ID    string
	Score *model.Prediction
	State []byte
}

// SaveModel stores m as a version with its report and the records that
// users yields, and activates it when activate is set. users calls yield
// once per user, in any order; an error from users or yield stops the
// save. The states are copied; the score records must not change until
// SaveModel returns. Records are written in batches (see the package documentation); the
// version becomes visible, and active, only when every batch is written.
func (s *Store) SaveModel(ctx context.Context, m *model.Model, report []byte, users func(yield func(UserRecord) error) error, activate bool) error {
	if m == nil {
		return fmt.Errorf("store: save model: nil model: %w", ErrInvalid)
	}
	if err := checkKey("model version", m.Version); err != nil {
		return err
	}
	enc, err := model.Encode(m)
	if err != nil {
		return fmt.Errorf("store: save model %s: %w", m.Version, err)
	}
	ver := []byte(m.Version)
	// Versions are immutable: refuse an existing one. Drop what an
	// interrupted save of this version left.
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bModels).Get(ver) != nil {
			return fmt.Errorf("version %s exists (versions are immutable; the same data, flags and seed give the same version): %w", m.Version, ErrExists)
		}
		for _, parent := range [][]byte{bScores, bStates} {
			p := tx.Bucket(parent)
			if p.Bucket(ver) != nil {
				if err := p.DeleteBucket(ver); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save model: %w", err)
	}

	// A pipeline: the caller's goroutine collects a batch and encodes its
	// score records on every core, while the writer goroutine commits the
	// previous batch (mostly waiting for the disk).
	type encoded struct {
		recs   []UserRecord
		scores [][]byte
	}
	todo := make(chan encoded, 1)
	werr := make(chan error, 1)
	var failed atomic.Bool // the writer failed: stop encoding
	n := 0
	go func() {
		var err error
		for b := range todo {
			if err != nil {
				continue // drain after a failure
			}
			err = s.update(ctx, func(tx *bolt.Tx) error {
				scores, err := tx.Bucket(bScores).CreateBucketIfNotExists(ver)
				if err != nil {
					return err
				}
				states, err := tx.Bucket(bStates).CreateBucketIfNotExists(ver)
				if err != nil {
					return err
				}
				scores.FillPercent, states.FillPercent = 0.9, 0.9
				for i := range b.recs {
					key := []byte(b.recs[i].ID)
					if v := b.scores[i]; v != nil {
						if scores.Get(key) == nil {
							n++
						}
						if err := scores.Put(key, v); err != nil {
							return err
						}
					}
					if v := b.recs[i].State; v != nil {
						if err := states.Put(key, v); err != nil {
							return err
						}
					}
				}
				return nil
			})
			failed.Store(err != nil)
		}
		werr <- err
	}()
	batch := make([]UserRecord, 0, s.batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := encoded{recs: batch, scores: make([][]byte, len(batch))}
		if err := encodeScores(b.recs, b.scores); err != nil {
			return err
		}
		if failed.Load() {
			return errWriter // the writer's own error is returned below
		}
		todo <- b
		batch = make([]UserRecord, 0, s.batchSize)
		return nil
	}
	err = users(func(r UserRecord) error {
		if err := checkKey("user id", r.ID); err != nil {
			return err
		}
		batch = append(batch, UserRecord{ID: r.ID, Score: r.Score, State: bytes.Clone(r.State)})
		if len(batch) == s.batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	close(todo)
	if werr := <-werr; werr != nil && (err == nil || err == errWriter) {
		err = werr
	}
	if err == nil {
		err = s.update(ctx, func(tx *bolt.Tx) error {
			if err := tx.Bucket(bModels).Put(ver, enc); err != nil {
				return err
			}
			if err := tx.Bucket(bReports).Put(ver, report); err != nil {
				return err
			}
			var cnt [8]byte
			binary.BigEndian.PutUint64(cnt[:], uint64(n))
			if err := tx.Bucket(bModelUsers).Put(ver, cnt[:]); err != nil {
				return err
			}
			if activate {
				return tx.Bucket(bMeta).Put(kActive, ver)
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("store: save model %s: %w", m.Version, err)
	}
	return nil
}

// errWriter stops a save's producer when its writer failed.
var errWriter = errors.New("store: the writer failed")

// encodeScores JSON-encodes the score records of recs into out (nil for
// records without a score), on every core.
func encodeScores(recs []UserRecord, out [][]byte) error {
	workers := min(runtime.GOMAXPROCS(0), max(len(recs)/1000, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				if recs[i].Score == nil {
					continue
				}
				b, err := json.Marshal(recs[i].Score)
				if err != nil {
					errs[w] = fmt.Errorf("user %q: %w", recs[i].ID, err)
					return
				}
				out[i] = b
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// decodeModel decodes a stored model record.
func decodeModel(version string, b []byte) (*model.Model, error) {
	m, err := model.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("store: model %s: %w", version, err)
	}
	return m, nil
}

// Model returns a stored version, prepared for scoring; nil and no error
// when there is no such version.
func (s *Store) Model(ctx context.Context, version string) (*model.Model, error) {
	var b []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b = bytes.Clone(tx.Bucket(bModels).Get([]byte(version)))
		return nil
	})
	if err != nil || b == nil {
		return nil, err
	}
	return decodeModel(version, b)
}

// ActiveModel returns the active model, prepared; nil and no error when no
// version has been activated.
func (s *Store) ActiveModel(ctx context.Context) (*model.Model, error) {
	var ver, b []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ver = bytes.Clone(tx.Bucket(bMeta).Get(kActive))
		if ver != nil {
			b = bytes.Clone(tx.Bucket(bModels).Get(ver))
		}
		return nil
	})
	if err != nil || ver == nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("store: active model %s has no model record: %w", ver, ErrNotFound)
	}
	return decodeModel(string(ver), b)
}

// ActiveVersion returns the active version, or "".
func (s *Store) ActiveVersion(ctx context.Context) (string, error) {
	var v string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bMeta).Get(kActive))
		return nil
	})
	return v, err
}

// Report returns the stored report.json of version; ErrNotFound when the
// version does not exist.
func (s *Store) Report(ctx context.Context, version string) ([]byte, error) {
	var b []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b = bytes.Clone(tx.Bucket(bReports).Get([]byte(version)))
		return nil
	})
	if err == nil && b == nil {
		err = fmt.Errorf("store: report of %s: %w", version, ErrNotFound)
	}
	return b, err
}

// ListModels returns every stored version, newest (by CreatedAt, then
// version) first.
func (s *Store) ListModels(ctx context.Context) ([]ModelInfo, error) {
	var out []ModelInfo
	err := s.view(ctx, func(tx *bolt.Tx) error {
		active := tx.Bucket(bMeta).Get(kActive)
		users := tx.Bucket(bModelUsers)
		return tx.Bucket(bModels).ForEach(func(k, v []byte) error {
			var head struct {
				CreatedAt   time.Time          `json:"created_at"`
				AsOf        time.Time          `json:"as_of"`
				HorizonDays int                `json:"horizon_days"`
				Metrics     map[string]float64 `json:"metrics"`
			}
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("model %s: %w", k, err)
			}
			info := ModelInfo{Version: string(k), CreatedAt: head.CreatedAt, AsOf: head.AsOf,
				HorizonDays: head.HorizonDays, Metrics: head.Metrics, Active: bytes.Equal(k, active)}
			if c := users.Get(k); len(c) == 8 {
				info.Users = int(binary.BigEndian.Uint64(c))
			}
			out = append(out, info)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list models: %w", err)
	}
	sortModels(out)
	return out, nil
}

// sortModels orders newest first.
func sortModels(ms []ModelInfo) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && newer(ms[j], ms[j-1]); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

func newer(a, b ModelInfo) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.Version > b.Version
}

// Activate makes a stored version the active one, durably; ErrNotFound
// when there is no such version.
func (s *Store) Activate(ctx context.Context, version string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bModels).Get([]byte(version)) == nil {
			return ErrNotFound
		}
		return tx.Bucket(bMeta).Put(kActive, []byte(version))
	})
	if err != nil {
		return fmt.Errorf("store: activate %s: %w", version, err)
	}
	return nil
}

// ctxEvery is how many records a scan handles between context checks.
const ctxEvery = 4096

// EachScore calls fn with every score record of version whose user id
// sorts after after ("" starts at the first), in user-id order, inside one
// read transaction. An error from fn stops the scan and is returned.
func (s *Store) EachScore(ctx context.Context, version, after string, fn func(id string, p *model.Prediction) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bScores).Bucket([]byte(version))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.First()
		} else {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for i := 0; k != nil; k, v = c.Next() {
			if i++; i%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var p model.Prediction
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("store: score of %q in %s: %w", k, version, err)
			}
			if err := fn(string(k), &p); err != nil {
				return err
			}
		}
		return nil
	})
}

// EachState calls fn with every stored state of version in user-id order,
// inside one read transaction; state is valid only during the call.
func (s *Store) EachState(ctx context.Context, version string, fn func(id string, state []byte) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bStates).Bucket([]byte(version))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for i, k, v := 0, []byte(nil), []byte(nil); ; i++ {
			if i == 0 {
				k, v = c.First()
			} else {
				k, v = c.Next()
			}
			if k == nil {
				return nil
			}
			if i%ctxEvery == ctxEvery-1 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(string(k), v); err != nil {
				return err
			}
		}
	})
}

// LoadUsers calls fn once for each of ids, in order, inside one read
// transaction, with the user's encoded state under version (nil when none;
// valid only during the call) and, only when no state is stored, the score
// record (nil when none). A state supersedes the record: scores are
// recomputed from it, so the record is not decoded.
func (s *Store) LoadUsers(ctx context.Context, version string, ids []string, fn func(i int, state []byte, score *model.Prediction) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		ver := []byte(version)
		states := tx.Bucket(bStates).Bucket(ver)
		scores := tx.Bucket(bScores).Bucket(ver)
		for i, id := range ids {
			key := []byte(id)
			var st []byte
			if states != nil {
				st = states.Get(key)
			}
			var p *model.Prediction
			if st == nil && scores != nil {
				if v := scores.Get(key); v != nil {
					p = new(model.Prediction)
					if err := json.Unmarshal(v, p); err != nil {
						return fmt.Errorf("store: score of %q in %s: %w", id, version, err)
					}
				}
			}
			if err := fn(i, st, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadScores calls fn once for each of ids, in order, inside one read
// transaction, with the user's stored score record under version (nil
// when none).
func (s *Store) LoadScores(ctx context.Context, version string, ids []string, fn func(i int, score *model.Prediction) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		scores := tx.Bucket(bScores).Bucket([]byte(version))
		for i, id := range ids {
			var p *model.Prediction
			if scores != nil {
				if v := scores.Get([]byte(id)); v != nil {
					p = new(model.Prediction)
					if err := json.Unmarshal(v, p); err != nil {
						return fmt.Errorf("store: score of %q in %s: %w", id, version, err)
					}
				}
			}
			if err := fn(i, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateStates replaces the state of each of ids under version with
// fn(i, old), where old is the stored state or nil (valid only during the
// call). The update is durable when UpdateStates returns nil; when fn or
// the commit fails nothing of it is written.
//
// Concurrent calls are committed together: a call commits at once when
// no other is committing, and the calls that arrive meanwhile share the
// next transaction (one commit, one pair of fsyncs). So fn may be called
// more than once for the same i and must depend only on i and old.
func (s *Store) UpdateStates(ctx context.Context, version string, ids []string, fn func(i int, old []byte) ([]byte, error)) error {
	for _, id := range ids {
		if err := checkKey("user id", id); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.group.do(func(tx *bolt.Tx) error {
		ver := []byte(version)
		if tx.Bucket(bModels).Get(ver) == nil {
			return fmt.Errorf("model %s: %w", version, ErrNotFound)
		}
		states, err := tx.Bucket(bStates).CreateBucketIfNotExists(ver)
		if err != nil {
			return err
		}
		for i, id := range ids {
			key := []byte(id)
			next, err := fn(i, states.Get(key))
			if err != nil {
				return err
			}
			if err := states.Put(key, next); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: update states: %w", err)
	}
	return nil
}

// OptOut records that a user opted out of marketing exports. It is
// idempotent (the first time is kept) and works for users not seen yet.
func (s *Store) OptOut(ctx context.Context, id string) error {
	if err := checkKey("user id", id); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bOptOuts)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		return b.Put([]byte(id), []byte(time.Now().UTC().Format(time.RFC3339)))
	})
}

// OptedOut reports whether a user opted out.
func (s *Store) OptedOut(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok = tx.Bucket(bOptOuts).Get([]byte(id)) != nil
		return nil
	})
	return ok, err
}

// DeleteUser erases everything stored about a user: its state and score
// record in every version, its opt-out, and its assignments in every
// experiment (whose group counts are decremented). It reports whether
// anything was stored.
func (s *Store) DeleteUser(ctx context.Context, id string) (bool, error) {
	if err := checkKey("user id", id); err != nil {
		return false, err
	}
	key := []byte(id)
	found := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		found = false
		for _, parent := range [][]byte{bScores, bStates} {
			p := tx.Bucket(parent)
			err := p.ForEachBucket(func(ver []byte) error {
				b := p.Bucket(ver)
				if b.Get(key) == nil {
					return nil
				}
				found = true
				if bytes.Equal(parent, bScores) { // keep the user count true
					if err := addModelUsers(tx, ver, -1); err != nil {
						return err
					}
				}
				return b.Delete(key)
			})
			if err != nil {
				return err
			}
		}
		if o := tx.Bucket(bOptOuts); o.Get(key) != nil {
			found = true
			if err := o.Delete(key); err != nil {
				return err
			}
		}
		removed, err := deleteAssignments(tx, key)
		found = found || removed
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: delete user: %w", err)
	}
	return found, nil
}

// addModelUsers adds d to the stored user count of version.
func addModelUsers(tx *bolt.Tx, ver []byte, d int) error {
	b := tx.Bucket(bModelUsers)
	c := b.Get(ver)
	if len(c) != 8 {
		return nil
	}
	n := int64(binary.BigEndian.Uint64(c)) + int64(d)
	if n < 0 {
		n = 0
	}
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], uint64(n))
	return b.Put(ver, out[:])
}
