using NativeASD.Cli.Commands;

namespace NativeASD.Cli
{
    /// <summary>The nasd command: dispatches to a command, maps failures to one-line errors and exit codes.</summary>
    public static class Nasd
    {
        public static readonly CommandSpec[] Commands =
        [
            BenchCommand.Spec,
            FeaturesCommand.Spec,
            InspectCommand.Spec,
            ConvertCommand.Spec,
            FitCommand.Spec,
            ScoreCommand.Spec,
            CalibrateCommand.Spec,
            EmbedCommand.Spec,
            TagCommand.Spec,
            MonitorCommand.Spec,
            ServeCommand.Spec,
            EvalCommand.Spec,
            SynthCommand.Spec,
            NormaliseCommand.Spec,
            PretrainCommand.Spec,
            DemoCommand.Spec,
        ];

        public static int Main(string[] args)
        {
            if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
            {
                Console.Out.Write(Overview());
                return args.Length == 0 ? ExitCode.Usage : ExitCode.Ok;
            }
            if (args[0] == "--version")
            {
                Console.Out.WriteLine($"nasd {typeof(Nasd).Assembly.GetName().Version}");
                return ExitCode.Ok;
            }
            var spec = Commands.FirstOrDefault(c => c.Name == args[0]);
            try
            {
                if (spec is null) throw new UsageException($"unknown command '{args[0]}'", "run 'nasd --help' for the list of commands");
                var rest = args.Skip(1).ToList();
                if (rest.Contains("--help") || rest.Contains("-h"))
                {
                    Console.Out.Write(spec.Help());
                    return ExitCode.Ok;
                }
                return spec.Run(ParsedArgs.Parse(spec, rest));
            }
            catch (UsageException e) { return Fail(ExitCode.Usage, e.Message, e.Hint, e); }
            catch (InputException e) { return Fail(ExitCode.InputError, e.Message, e.Hint, e); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                return Fail(ExitCode.InputError, e.Message, HintFor(e), e);
            }
            catch (Exception e)
            {
                return Fail(ExitCode.InternalError, $"internal error: {e.GetType().Name}: {e.Message}", "set NASD_DEBUG=1 for the stack trace", e);
            }
        }

        /// <summary>What to try for input errors that come from the engine without a hint of their own.</summary>
        static string? HintFor(Exception e) => e switch
        {
            FileNotFoundException or DirectoryNotFoundException => "check the path",
            UnauthorizedAccessException => "check the file's permissions",
            Engine.Audio.AudioFormatException => "nasd reads WAV (PCM 8/16/24/32-bit, float, mu-law, A-law); convert others, e.g. ffmpeg -i IN -ar 16000 OUT.wav",
            Weights.WeightFormatException => "'nasd inspect FILE' shows what the file holds",
            _ => null,
        };

        static int Fail(int code, string message, string? hint, Exception e)
        {
            Console.Error.WriteLine($"nasd: error: {message}{(hint is null ? "" : $" (hint: {hint})")}");
            if (Environment.GetEnvironmentVariable("NASD_DEBUG") == "1") Console.Error.WriteLine(e);
            return code;
        }

        static string Overview()
        {
            var sb = new System.Text.StringBuilder();
            sb.AppendLine("nasd — NativeASD: anomalous machine-sound detection, natively in .NET");
            sb.AppendLine();
            sb.AppendLine("Usage: nasd COMMAND [options]    (nasd COMMAND --help for details)");
            sb.AppendLine();
            sb.AppendLine("Commands:");
            foreach (var c in Commands) sb.AppendLine($"  {c.Name.PadRight(10)}{c.Summary}");
            sb.AppendLine();
            sb.AppendLine("Exit codes: 0 ok, 1 usage error, 2 input error, 3 internal error, 130 interrupted (eval, demo).");
            return sb.ToString();
        }
    }
}
