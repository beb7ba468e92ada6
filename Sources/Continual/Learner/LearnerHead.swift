import Datasets
import Foundation
import TensorKit

/// What `clipcl export` writes: everything needed to classify CLIP image embeddings x in another framework,
///
///     f = x / |x|             (only with metadata normalize_input = "true")
///     f = f · adapterᵀ        (only when the file has `adapter.weight`: the linear adapter, torch's nn.Linear layout)
///     p = softmax(logit_scale · (f / |f|) · classifierᵀ)
///
/// with `classifier` [K, D] the unit class vectors (text embeddings, or class means for ncm/simplecil, or the prompt
/// learner's text embeddings) and the class names, model id and checkpoint hash in the metadata. Methods whose head is
/// not of this form (attention, fecam, ranpac) are refused with the reason.
public enum LearnerHead {
    public static let formatName = "clipcl-head"

    public static func make(_ learner: LoadedLearner, classifier: LearnerClassifier) throws -> SafeTensorsWriter {
        let s = learner.state
        let k = s.classNames.count, all = Array(0..<k)
        var w = SafeTensorsWriter()
        var normalizeInput = false
        let classes: Tensor
        switch s.config.method {
        case .zeroshot:
            classes = learner.text
        case .linear, .finetune, .rapf:
            guard let weight = learner.parameters["weight"] else { throw ContinualError.invalidParameters(name: "weight", reason: "missing") }
            try w.add("adapter.weight", weight)
            normalizeInput = s.config.normalizeInput
            classes = learner.text
        case .ncm, .simplecil:
            guard let sums = learner.parameters["sums"] else { throw ContinualError.invalidParameters(name: "sums", reason: "missing") }
            classes = try sums.gather(rows: all, indexShape: [k])
        case .prompt:
            guard let prompt = classifier.method as? PromptTuning else { throw ContinualError.learner("prompt: no prompt learner") }
            classes = try prompt.textFeatures(classes: all, classNames: s.classNames)
        case .attention, .fecam, .ranpac, .joint:
            throw ContinualError.learner("export writes a cosine classifier head (zeroshot, linear, finetune, rapf, ncm, simplecil, prompt); "
                                         + "\(s.config.method.rawValue) classifies otherwise — use `clipcl predict`")
        }
        try w.add("classifier", try classes.l2Normalized())
        try w.add("logit_scale", Tensor(scalar: s.model.logitScale))
        w.metadata = [
            "format": formatName, "version": "1", "model": s.model.id, "checkpoint_sha256": s.model.checkpointSHA256,
            "checkpoint_revision": s.model.checkpointRevision ?? "", "class_names": FeatureCacheFiles.jsonArray(s.classNames),
            "method": s.config.method.rawValue, "normalize_input": normalizeInput ? "true" : "false", "state": "\(s.number)",
        ]
        return w
    }
}
