// Continual module
