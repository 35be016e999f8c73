/** The footer of every confirmation dialog: Cancel (focused first) and the action, which closes the dialog. */
export function ConfirmFooter({
  label,
  testId,
  onConfirm,
  onClose,
  danger = false,
}: {
  label: string;
  testId: string;
  onConfirm: () => void;
  onClose: () => void;
  danger?: boolean;
}) {
  return (
    <>
      <button type="button" className="button button-secondary" onClick={onClose} data-autofocus>
        Cancel
      </button>
      <button
        type="button"
        className={danger ? 'button button-danger' : 'button button-primary'}
        onClick={() => {
          onConfirm();
          onClose();
        }}
        data-testid={testId}
      >
        {label}
      </button>
    </>
  );
}
