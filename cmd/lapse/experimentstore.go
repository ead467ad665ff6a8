package main

import (
	"context"

	"github.com/lapse-dev/lapse/model"
	"github.com/lapse-dev/lapse/model/lift"
	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/serving/store"
)

// experimentStore is what lapse experiment and lapse lift need from the
// store: what serving.CreateExperiment reads and writes, stored model
// versions and their scores, the experiments' assignments and active
// flags, and the global control group. It is declared here, where it is
// used; *store.Store satisfies it as it is.
type experimentStore interface {
	serving.ExperimentCreator
	// Model returns a stored version; nil and no error when none.
	Model(ctx context.Context, version string) (*model.Model, error)
	ListExperiments(ctx context.Context) ([]lift.Experiment, error)
	EachAssignment(ctx context.Context, name string, fn func(a *lift.Assignment) error) error
	SetExperimentActive(ctx context.Context, name string, active bool) error
	// SetGlobalControl stores the global control group; nil removes it.
	SetGlobalControl(ctx context.Context, g *lift.GlobalControl) error
	// GlobalControl returns the global control group; nil when none.
	GlobalControl(ctx context.Context) (*lift.GlobalControl, error)
	Close() error
}

var _ experimentStore = (*store.Store)(nil)

// openExperimentStore opens the store file at path; readOnly shares it
// with other readers and fails when the file does not exist.
var openExperimentStore = func(path string, readOnly bool) (experimentStore, error) {
	st, err := store.Open(path, &store.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	return st, nil
}
