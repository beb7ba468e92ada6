import CLIP
import Continual
import Datasets
import Foundation

/// `clipcl export`: the classifier head of a learner state as safetensors, for use in another framework.
enum ExportCommand: Command {
    static let name = "export"
    static let summary = "Write a learner state's classifier head (adapter, class embeddings, names) as safetensors."
    static let usage = "clipcl export --state DIR[@N] --out head.safetensors"
    static let options: [OptionSpec] = [
        .option("state", "DIR[@N]", "Learner state directory; @N exports state N instead of the current one"),
        .option("out", "FILE", "The safetensors file to write"),
        .flag("offline", "Never use the network (prompt tuning needs the state's text tower)"),
    ]

    static func run(_ args: ParsedArguments) throws {
        let (dir, number) = try learnerState(args)
        let out = URL(fileURLWithPath: try args.require("out"))
        let learner = try dir.load(number)
        var encoder: CLIPPromptEncoder? = nil
        if learner.state.config.method == .prompt {
            let model = learner.state.model
            let clip = try loadModel(args, id: model.id, revision: model.checkpointRevision)
            try checkSameCheckpoint(try FeatureCache.checkpointSHA256(of: clip), model, state: dir.url)
            encoder = CLIPPromptEncoder(tower: clip.model.text, tokenizer: clip.tokenizer)
        }
        let head = try LearnerHead.make(learner, classifier: try LearnerClassifier(learner, textEncoder: encoder))
        try FeatureCacheFiles.writeAtomically(try head.data(), to: out)
        print("wrote \(out.path): \(learner.state.classNames.count) classes, \(learner.state.config.method.rawValue) head of state \(learner.state.number)")
    }
}
