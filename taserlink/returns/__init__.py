"""The Home Office return of every use, and the oversight group's scrutiny statistics."""
