package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/lapse-dev/lapse/model/lift"
)

// CreateExperiment stores exp with its assignments in one transaction.
// The experiment's Treatment and Control counts are set from as. It
// returns ErrExists when an experiment of that name is stored, and
// ErrInvalid for a bad name, an assignment without a user id, a user
// assigned twice or a group other than treatment and control.
func (s *Store) CreateExperiment(ctx context.Context, exp *lift.Experiment, as []lift.Assignment) error {
	if exp == nil {
		return fmt.Errorf("store: create experiment: nil experiment: %w", ErrInvalid)
	}
	if err := lift.CheckName(exp.Name); err != nil {
		return fmt.Errorf("store: create experiment: %w: %w", ErrInvalid, err)
	}
	e := *exp
	e.Treatment, e.Control = 0, 0
	seen := make(map[string]struct{}, len(as))
	for i := range as {
		a := &as[i]
		if err := checkKey("user id", a.UserID); err != nil {
			return fmt.Errorf("store: create experiment %s: assignment %d: %w", e.Name, i, err)
		}
		if _, dup := seen[a.UserID]; dup {
			return fmt.Errorf("store: create experiment %s: user %q assigned twice: %w", e.Name, a.UserID, ErrInvalid)
		}
		seen[a.UserID] = struct{}{}
		switch a.Group {
		case lift.Treatment:
			e.Treatment++
		case lift.Control:
			e.Control++
		default:
			return fmt.Errorf("store: create experiment %s: user %q: group %q: %w", e.Name, a.UserID, a.Group, ErrInvalid)
		}
	}
	head, err := json.Marshal(&e)
	if err != nil {
		return fmt.Errorf("store: create experiment %s: %w", e.Name, err)
	}
	name := []byte(e.Name)
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bExperiments).Get(name) != nil {
			return ErrExists
		}
		parent := tx.Bucket(bAssignments)
		if parent.Bucket(name) != nil {
			if err := parent.DeleteBucket(name); err != nil { // left by a failed create
				return err
			}
		}
		b, err := parent.CreateBucket(name)
		if err != nil {
			return err
		}
		for i := range as {
			v, err := json.Marshal(&as[i])
			if err != nil {
				return err
			}
			if err := b.Put([]byte(as[i].UserID), v); err != nil {
				return err
			}
		}
		return tx.Bucket(bExperiments).Put(name, head)
	})
	if err != nil {
		return fmt.Errorf("store: create experiment %s: %w", e.Name, err)
	}
	*exp = e
	return nil
}

// getExperiment decodes a stored experiment; nil when there is none.
func getExperiment(tx *bolt.Tx, name []byte) (*lift.Experiment, error) {
	v := tx.Bucket(bExperiments).Get(name)
	if v == nil {
		return nil, nil
	}
	var e lift.Experiment
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("experiment %s: %w", name, err)
	}
	return &e, nil
}

// Experiment returns a stored experiment; nil and no error when there is
// none of that name.
func (s *Store) Experiment(ctx context.Context, name string) (*lift.Experiment, error) {
	var e *lift.Experiment
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		e, err = getExperiment(tx, []byte(name))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return e, nil
}

// ListExperiments returns every stored experiment, by name.
func (s *Store) ListExperiments(ctx context.Context) ([]lift.Experiment, error) {
	var out []lift.Experiment
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bExperiments).ForEach(func(k, v []byte) error {
			var e lift.Experiment
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("experiment %s: %w", k, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list experiments: %w", err)
	}
	return out, nil
}

// EachAssignment calls fn with every assignment of an experiment, in
// user-id order, inside one read transaction. It returns ErrNotFound when
// there is no such experiment.
func (s *Store) EachAssignment(ctx context.Context, name string, fn func(a *lift.Assignment) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		key := []byte(name)
		if tx.Bucket(bExperiments).Get(key) == nil {
			return fmt.Errorf("store: experiment %s: %w", name, ErrNotFound)
		}
		b := tx.Bucket(bAssignments).Bucket(key)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		i := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if i++; i%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var a lift.Assignment
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("store: experiment %s: assignment of %q: %w", name, k, err)
			}
			if err := fn(&a); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetExperimentActive marks an experiment active (its control users are
// suppressed from exports) or stopped. ErrNotFound when there is none.
func (s *Store) SetExperimentActive(ctx context.Context, name string, active bool) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		e, err := getExperiment(tx, []byte(name))
		if err != nil {
			return err
		}
		if e == nil {
			return ErrNotFound
		}
		e.Active = active
		return putExperiment(tx, e)
	})
	if err != nil {
		return fmt.Errorf("store: experiment %s: %w", name, err)
	}
	return nil
}

func putExperiment(tx *bolt.Tx, e *lift.Experiment) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bExperiments).Put([]byte(e.Name), v)
}

// SetGlobalControl stores the global control group; nil removes it.
func (s *Store) SetGlobalControl(ctx context.Context, g *lift.GlobalControl) error {
	if g != nil {
		if err := lift.CheckShare("global control share", g.Share); err != nil {
			return fmt.Errorf("store: %w: %w", ErrInvalid, err)
		}
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if g == nil {
			return meta.Delete(kGlobalControl)
		}
		v, err := json.Marshal(g)
		if err != nil {
			return err
		}
		return meta.Put(kGlobalControl, v)
	})
}

// GlobalControl returns the global control group; nil and no error when
// none is set.
func (s *Store) GlobalControl(ctx context.Context) (*lift.GlobalControl, error) {
	var g *lift.GlobalControl
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		g, err = globalControl(tx)
		return err
	})
	return g, err
}

func globalControl(tx *bolt.Tx) (*lift.GlobalControl, error) {
	v := tx.Bucket(bMeta).Get(kGlobalControl)
	if v == nil {
		return nil, nil
	}
	var g lift.GlobalControl
	if err := json.Unmarshal(v, &g); err != nil {
		return nil, fmt.Errorf("store: global control: %w", err)
	}
	return &g, nil
}

// Suppressed sets out[i] when ids[i] must be left out of campaign exports:
// the user opted out, is in the global control group, or is in the control
// group of an active experiment. len(out) must equal len(ids).
func (s *Store) Suppressed(ctx context.Context, ids []string, out []bool) error {
	if len(out) != len(ids) {
		panic("store: Suppressed: len(out) != len(ids)")
	}
	return s.view(ctx, func(tx *bolt.Tx) error {
		g, err := globalControl(tx)
		if err != nil {
			return err
		}
		var controls []*bolt.Bucket
		err = tx.Bucket(bExperiments).ForEach(func(k, v []byte) error {
			var head struct {
				Active bool `json:"active"`
			}
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("store: experiment %s: %w", k, err)
			}
			if b := tx.Bucket(bAssignments).Bucket(k); head.Active && b != nil {
				controls = append(controls, b)
			}
			return nil
		})
		if err != nil {
			return err
		}
		optouts := tx.Bucket(bOptOuts)
		for i, id := range ids {
			key := []byte(id)
			out[i] = optouts.Get(key) != nil || g.Holds(id)
			for _, b := range controls {
				if out[i] {
					break
				}
				out[i] = isControl(b.Get(key))
			}
		}
		return nil
	})
}

// isControl reports whether an encoded assignment is in the control group.
func isControl(v []byte) bool {
	if v == nil {
		return false
	}
	var a struct {
		Group lift.Group `json:"group"`
	}
	return json.Unmarshal(v, &a) == nil && a.Group == lift.Control
}

// deleteAssignments removes a user from every experiment, decrementing the
// group counts, and reports whether any assignment was removed.
func deleteAssignments(tx *bolt.Tx, key []byte) (bool, error) {
	parent := tx.Bucket(bAssignments)
	var names [][]byte
	err := parent.ForEachBucket(func(name []byte) error {
		if parent.Bucket(name).Get(key) != nil {
			names = append(names, bytes.Clone(name))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, name := range names {
		b := parent.Bucket(name)
		control := isControl(b.Get(key))
		if err := b.Delete(key); err != nil {
			return false, err
		}
		e, err := getExperiment(tx, name)
		if err != nil {
			return false, err
		}
		if e == nil {
			continue
		}
		if control {
			e.Control = max(e.Control-1, 0)
		} else {
			e.Treatment = max(e.Treatment-1, 0)
		}
		if err := putExperiment(tx, e); err != nil {
			return false, err
		}
	}
	return len(names) > 0, nil
}
