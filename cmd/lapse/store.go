package main

import (
	"context"
	"fmt"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/serving/store"
	"github.com/lapse-dev/lapse/training"
)

// This file wires serving/store (bbolt) into the commands: modelStore for
// train, score and models, and serving.Deps for serve.

func init() {
	openModelStore = func(path string) (modelStore, error) {
		st, err := store.Open(path, nil)
		if err != nil {
			return nil, err
		}
		return &boltModelStore{st}, nil
	}
}

// boltModelStore adapts *store.Store to modelStore.
type boltModelStore struct{ *store.Store }

var _ modelStore = (*boltModelStore)(nil)

// SaveModel stores the training result: the model, its report, and every
// scored user's prediction and state as of T.
func (b *boltModelStore) SaveModel(ctx context.Context, res *training.Result, report []byte, activate bool) error {
	if res.States != nil && len(res.States) != len(res.Scores) {
		return fmt.Errorf("store: %d states for %d scores", len(res.States), len(res.Scores))
	}
	var buf []byte
	users := func(yield func(store.UserRecord) error) error {
		for i := range res.Scores {
			r := store.UserRecord{ID: res.Scores[i].UserID, Score: &res.Scores[i].Prediction}
			if res.States != nil {
				us := res.States[i]
				if us.UserID != r.ID {
					return fmt.Errorf("store: state %d is of user %q, score of %q", i, us.UserID, r.ID)
				}
				var err error
				if buf, err = us.State.AppendBinary(buf[:0]); err != nil {
					return fmt.Errorf("store: state of %q: %w", r.ID, err)
				}
				r.State = buf
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
	return b.Store.SaveModel(ctx, res.Model, report, users, activate)
}

// ListModels lists the versions for lapse models.
func (b *boltModelStore) ListModels(ctx context.Context) ([]modelInfo, error) {
	list, err := b.Store.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]modelInfo, len(list))
	for i, m := range list {
		out[i] = modelInfo{Version: m.Version, Created: m.CreatedAt, AsOf: m.AsOf, HorizonDays: m.HorizonDays,
			ChurnAUC: m.Metrics["churn_auc_oot"], Users: m.Users, Active: m.Active}
	}
	return out, nil
}

// ActiveModel returns the active model or errNoActiveModel.
func (b *boltModelStore) ActiveModel(ctx context.Context) (*model.Model, error) {
	m, err := b.Store.ActiveModel(ctx)
	if err == nil && m == nil {
		err = errNoActiveModel
	}
	return m, err
}

// EachScore visits every stored score of version in user-id order.
func (b *boltModelStore) EachScore(ctx context.Context, version string, fn func(user string, p *model.Prediction) error) error {
	return b.Store.EachScore(ctx, version, "", fn)
}

// servingDeps adapts *store.Store to the interfaces serving declares.
func servingDeps(st *store.Store) serving.Deps {
	return serving.Deps{Models: servingModels{st}, Users: st, Segments: st, Experiments: st}
}

// servingModels adapts the store's model listing to serving.ModelStore.
type servingModels struct{ *store.Store }

var _ serving.ModelStore = servingModels{}

func (s servingModels) ListModels(ctx context.Context) ([]serving.ModelInfo, error) {
	list, err := s.Store.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]serving.ModelInfo, len(list))
	for i, m := range list {
		out[i] = serving.ModelInfo{Version: m.Version, CreatedAt: m.CreatedAt, AsOf: m.AsOf, HorizonDays: m.HorizonDays,
			Users: m.Users, Metrics: m.Metrics, Active: m.Active}
	}
	return out, nil
}
