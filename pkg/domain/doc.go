// Package domain holds certctl-serverless's entities, their states and the pure
// rules that govern them. It performs no I/O.
package domain
