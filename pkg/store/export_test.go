package store

// Test helpers shared with the external test package.
var (
	CheckGolden = checkGolden
	AVMapJSON   = avMapJSON
)
