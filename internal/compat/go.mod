module github.com/postwire/postwire/internal/compat

go 1.26.0

replace github.com/postwire/postwire => ../..

require (
	github.com/postwire/postwire v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
