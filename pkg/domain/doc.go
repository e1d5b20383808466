// Package domain holds certctl-serverless's entities, their states and the pure
// rules that govern them, the API's input and view types, and the one error
// type callers see (Error: a kind, a public message and an internal cause).
// It performs no I/O.
package domain
