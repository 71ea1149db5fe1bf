"""Security properties: each test fails when the property it names is taken away."""
