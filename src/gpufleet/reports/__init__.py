"""HTML reports and plots. Built in later issues."""
