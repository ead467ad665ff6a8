package main

import (
	"context"
	"errors"
	"time"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/training"
)

// modelStore is what lapse train, score and models need from the model
// store (serving/store, the only bbolt user): immutable model versions with
// their report, per-user scores and states, and the active pointer. It is
// declared here, where it is used; the bbolt-backed implementation adapts
// serving/store to it.
type modelStore interface {
	// SaveModel stores res.Model with the report, every user's score and
	// state as one new version, atomically, and activates it when asked.
	SaveModel(ctx context.Context, res *training.Result, report []byte, activate bool) error
	// ListModels returns every version, newest first.
	ListModels(ctx context.Context) ([]modelInfo, error)
	// ActiveModel returns the active model; errNoActiveModel when none.
	ActiveModel(ctx context.Context) (*model.Model, error)
	// Activate makes version the active one.
	Activate(ctx context.Context, version string) error
	// EachScore calls fn with every stored score of version, by user id.
	EachScore(ctx context.Context, version string, fn func(user string, p *model.Prediction) error) error
	// Close releases the store.
	Close() error
}

// modelInfo is one stored version as lapse models lists it.
type modelInfo struct {
	Version     string
	Created     time.Time
	AsOf        time.Time
	HorizonDays int
	// ChurnAUC is the out-of-time churn AUC (model.Metrics["churn_auc_oot"]).
	ChurnAUC float64
	Users    int
	Active   bool
}

// errNoActiveModel means the store holds no active model yet.
var errNoActiveModel = errors.New("the store has no active model: run lapse train first")

// errNoStore means this build was made without a model store.
var errNoStore = errors.New("this build of lapse has no model store (serving/store)")

// openModelStore opens the store file at path, creating it if missing. It
// is set by the file that wires serving/store in.
var openModelStore func(path string) (modelStore, error)

// openStore opens the store or says why it cannot.
func openStore(path string) (modelStore, error) {
	if openModelStore == nil {
		return nil, errNoStore
	}
	return openModelStore(path)
}

// storeResult saves a training result.
func storeResult(ctx context.Context, st modelStore, res *training.Result, report []byte, activate bool) error {
	return st.SaveModel(ctx, res, report, activate)
}
