"""The privacy audit report: context building, figures and HTML/PDF rendering."""
