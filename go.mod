module github.com/postwire/postwire

go 1.26
