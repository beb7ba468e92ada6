// CLIP module
