"""Security properties (issue 4): each test fails when the property it names is taken away."""
