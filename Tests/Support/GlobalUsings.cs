// TestBackends.cs (and every test file) uses xunit types such as TheoryData<T> without a using directive.
global using Xunit;
