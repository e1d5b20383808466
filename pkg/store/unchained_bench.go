//go:build certctl_bench

package store

// WithoutChain returns a store over the same tables that appends audit
// rows unlinked, as the store did before the audit chain: the baseline
// the benchmarks measure the chain's cost against. Only a build with the
// certctl_bench tag has it (`make bench`); no binary of the service can
// write an unlinked row.
func (st *Store) WithoutChain() *Store {
	return &Store{db: st.db, stateTable: st.stateTable, auditTable: st.auditTable, unchained: true}
}
